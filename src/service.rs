//! Running `chat-server` as a service: from resolved settings to a bound, announced server,
//! and the signals an init system sends it.
//!
//! The order matters and is the reason this is one function rather than steps in `main`:
//! check everything, then bind, then say ready. Signal handlers first (a `systemctl
//! reload` arriving during start-up must not kill the process, SIGHUP's default action),
//! then the TLS pair (a bad certificate stops start-up before any port is taken, naming
//! the file), then the log directory and the archive (checked, locked against a second
//! server, opened), then the listeners (inherited from systemd socket activation, or bound
//! from the settings; "listening on" is logged only then), and only then `READY=1`. SIGHUP reopens the archives (logrotate) and reloads the TLS pair (certificate
//! renewal); SIGTERM and SIGINT close every connection with a goodbye and exit 0.

use std::net::SocketAddr;

use anyhow::{Context as _, bail};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

use crate::config::Settings;
use crate::server::{Listener, Protocol, Server};
use crate::systemd;
use crate::tls::ReloadableTls;

/// Validates what `--check-config` can without binding ports or changing anything: the
/// settings were already resolved, so this reads the TLS pair when one is configured and
/// checks the log directory as start-up would (without creating it, and without its lock,
/// which the running server holds while its next configuration is checked).
pub fn check_config(settings: &Settings) -> anyhow::Result<()> {
    load_tls(settings)?;
    crate::logdir::check(&settings.log_dir, settings.create_log_dir)?;
    Ok(())
}

/// Loads the TLS pair when `--tls-cert`/`--tls-key` are set; `None` without them.
pub fn load_tls(settings: &Settings) -> anyhow::Result<Option<ReloadableTls>> {
    match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) => Ok(Some(crate::tls::load(cert, key)?)),
        (None, None) => Ok(None),
        _ => bail!("--tls-cert and --tls-key must be given together"),
    }
}

/// Runs the server until SIGTERM or SIGINT; see the module documentation for the order of
/// start-up and what each signal does.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;

    match crate::limits::raise_nofile() {
        Ok((before, now)) if now > before => {
            tracing::info!("file descriptor limit raised from {before} to {now} (the hard limit)")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot raise the file descriptor limit"),
    }
    let tls = load_tls(&settings)?;
    let server = Server::open(settings).await?;
    let (listeners, status) = bind(server.settings(), tls.as_ref()).await?;
    let archive = server.archive();

    let reloader = tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            systemd::reloading();
            tracing::info!("SIGHUP: reopening archive files");
            archive.reopen();
            if let Some(tls) = &tls {
                match tls.reload() {
                    Ok(()) => tracing::info!(
                        cert = %tls.cert_path().display(),
                        key = %tls.key_path().display(),
                        "SIGHUP: TLS certificate reloaded"
                    ),
                    Err(e) => tracing::error!(
                        error = %e,
                        "SIGHUP: TLS reload failed; still serving the previous certificate"
                    ),
                }
            }
            systemd::reloaded("reloaded");
        }
    });

    systemd::ready(&status);
    systemd::spawn_watchdog();
    let shutdown = async move {
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM received"),
            _ = interrupt.recv() => tracing::info!("SIGINT received"),
        }
        systemd::stopping();
        // No reload may start once the goodbye has begun; this also drops its archive handle.
        reloader.abort();
    };
    server.run(listeners, shutdown).await
}

/// The listeners to serve: the sockets systemd passed, if any (`FileDescriptorName=tls...`
/// marks TLS ones), else the configured `--listen` and `--tls-listen` addresses. Returns
/// them with a one-line summary for `systemctl status`.
async fn bind(
    settings: &Settings,
    tls: Option<&ReloadableTls>,
) -> anyhow::Result<(Vec<Listener>, String)> {
    let mut listeners = Vec::new();
    let mut summary = Vec::new();
    let inherited = systemd::inherited_listeners().context("socket activation")?;
    if !inherited.is_empty() {
        if !settings.listen.is_empty() || !settings.tls_listen.is_empty() {
            tracing::info!("using the sockets systemd passed; --listen/--tls-listen ignored");
        }
        for socket in inherited {
            let is_tls = socket.is_tls();
            let tcp = TcpListener::from_std(socket.listener)?;
            let addr = tcp.local_addr()?;
            if is_tls {
                let Some(tls) = tls else {
                    bail!(
                        "systemd passed a socket named {} on {addr}, but --tls-cert and --tls-key are not set",
                        socket.name
                    );
                };
                tracing::info!("listening on {addr} (tls, from systemd)");
                summary.push(format!("{addr} (tls)"));
                listeners.push(tls_listener(tcp, tls, Protocol::Irc));
            } else {
                tracing::info!("listening on {addr} (plain, from systemd)");
                summary.push(format!("{addr} (plain)"));
                listeners.push(Listener::plain(tcp));
            }
        }
    } else {
        for addr in &settings.listen {
            let tcp = bind_one(addr).await?;
            let addr = tcp.local_addr()?;
            tracing::info!("listening on {addr} (plain)");
            summary.push(format!("{addr} (plain)"));
            listeners.push(Listener::plain(tcp));
        }
        for addr in &settings.tls_listen {
            let tls = tls.context("--tls-listen needs --tls-cert and --tls-key")?;
            let tcp = bind_one(addr).await?;
            let addr = tcp.local_addr()?;
            tracing::info!("listening on {addr} (tls)");
            summary.push(format!("{addr} (tls)"));
            listeners.push(tls_listener(tcp, tls, Protocol::Irc));
        }
    }
    bind_web(settings, tls, &mut listeners, &mut summary).await?;
    if listeners.is_empty() {
        bail!("no listener: give --listen or --tls-listen");
    }
    Ok((listeners, format!("accepting on {}", summary.join(", "))))
}

/// The HTTP listeners (web client, WebSocket, `/health`, `/metrics`): `--http-listen`
/// and `--https-listen`. The default HTTP address (127.0.0.1:8080) being taken only warns,
/// so a second server on one machine still starts; an address given must bind.
async fn bind_web(
    settings: &Settings,
    tls: Option<&ReloadableTls>,
    listeners: &mut Vec<Listener>,
    summary: &mut Vec<String>,
) -> anyhow::Result<()> {
    for addr in &settings.http_listen {
        let tcp = match bind_one(addr).await {
            Ok(tcp) => tcp,
            Err(e) if !settings.http_listen_given => {
                tracing::warn!(
                    "no web client: {e:#}; give --http-listen ADDR (or `none`) to choose"
                );
                continue;
            }
            Err(e) => return Err(e),
        };
        let addr = tcp.local_addr()?;
        tracing::info!("web client at http://{addr}/ (WebSocket at ws://{addr}/ws)");
        summary.push(format!("{addr} (http)"));
        listeners.push(Listener {
            tcp,
            tls: None,
            protocol: Protocol::Http,
        });
    }
    for addr in &settings.https_listen {
        let tls = tls.context("--https-listen needs --tls-cert and --tls-key")?;
        let tcp = bind_one(addr).await?;
        let addr = tcp.local_addr()?;
        tracing::info!("web client at https://{addr}/ (WebSocket at wss://{addr}/ws)");
        summary.push(format!("{addr} (https)"));
        listeners.push(tls_listener(tcp, tls, Protocol::Http));
    }
    Ok(())
}

async fn bind_one(addr: &SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

fn tls_listener(tcp: TcpListener, tls: &ReloadableTls, protocol: Protocol) -> Listener {
    Listener {
        tcp,
        tls: Some(tls.acceptor()),
        protocol,
    }
}
