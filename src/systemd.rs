//! Talking to systemd: readiness, reload and stop notices, the watchdog, and listening sockets
//! handed over by socket activation.
//!
//! With `Type=notify` systemd only starts dependent units, and `systemctl start` only
//! returns, once the server says `READY=1`; it is sent after every listener is bound and the
//! archive is open, so "active" means "accepting". `WatchdogSec=` restarts a server whose
//! runtime has wedged. Outside systemd (no `$NOTIFY_SOCKET`, no `$WATCHDOG_USEC`, no
//! `$LISTEN_FDS`) every function here does nothing, so the same binary runs from a shell.
//!
//! A failing notification is logged, never fatal: losing a status message must not take a
//! chat server down.

use std::io;
use std::net::TcpListener;
use std::os::fd::{FromRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sd_notify::NotifyState;

/// Tells systemd the server is accepting connections (`READY=1`), with a status line for
/// `systemctl status`.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Tells systemd the server is shutting down (`STOPPING=1`), so a slow goodbye to every
/// client is not mistaken for a hang.
pub fn stopping() {
    send(&[
        NotifyState::Stopping,
        NotifyState::Status("shutting down: closing connections"),
    ]);
}

/// Tells systemd a reload (SIGHUP) has begun; follow it with [`reloaded`].
///
/// `MONOTONIC_USEC` is included because newer systemd versions require it with `RELOADING=1`.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// Tells systemd a reload has finished and the server is ready again (`READY=1`).
pub fn reloaded(status: &str) {
    ready(status);
}

/// Updates the one-line status shown by `systemctl status`.
pub fn status(text: &str) {
    send(&[NotifyState::Status(text)]);
}

/// The interval systemd expects `WATCHDOG=1` at (half of `$WATCHDOG_USEC`), if the
/// watchdog is on for this process.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
        .filter(|d| !d.is_zero())
        .map(|d| d / 2)
}

/// Starts a task on the current tokio runtime that sends `WATCHDOG=1` at half the watchdog
/// interval, so systemd restarts the server if the runtime stops scheduling tasks.
/// Returns `None` (and starts nothing) when the watchdog is off.
pub fn spawn_watchdog() -> Option<tokio::task::JoinHandle<()>> {
    let every = watchdog_interval()?;
    tracing::info!(
        interval_ms = every.as_millis() as u64,
        "systemd watchdog enabled"
    );
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            send(&[NotifyState::Watchdog]);
        }
    }))
}

/// A listening socket systemd opened for us (socket activation), with its
/// `FileDescriptorName=` ("tls" marks a TLS listener).
#[derive(Debug)]
pub struct InheritedListener {
    /// The name from `$LISTEN_FDNAMES`; "unknown" when the unit gave none.
    pub name: String,
    /// The socket, already listening and set non-blocking for tokio.
    pub listener: TcpListener,
}

impl InheritedListener {
    /// True when the socket unit named this socket for TLS (`FileDescriptorName=tls...`).
    pub fn is_tls(&self) -> bool {
        self.name.starts_with("tls")
    }
}

static TAKEN: AtomicBool = AtomicBool::new(false);

/// Takes the TCP listeners passed by socket activation (`$LISTEN_FDS` for this pid).
///
/// Empty outside socket activation. Each descriptor is checked to be a listening TCP
/// socket, so a unit passing a UDP or Unix socket fails start-up with a clear error instead
/// of misbehaving later. The descriptors are owned by the result, so this takes them only
/// once; later calls return an empty list.
pub fn inherited_listeners() -> io::Result<Vec<InheritedListener>> {
    if TAKEN.swap(true, Ordering::SeqCst) {
        return Ok(Vec::new());
    }
    let fds = sd_notify::listen_fds_with_names()?;
    let mut out = Vec::with_capacity(fds.len());
    for (fd, name) in fds {
        out.push(adopt(fd, name)?);
    }
    Ok(out)
}

/// Checks that `fd` is a listening TCP socket and takes ownership of it.
fn adopt(fd: RawFd, name: String) -> io::Result<InheritedListener> {
    let sock_type = sockopt(fd, libc::SO_TYPE)?;
    let domain = sockopt(fd, libc::SO_DOMAIN)?;
    let listening = sockopt(fd, libc::SO_ACCEPTCONN)?;
    if sock_type != libc::SOCK_STREAM
        || !(domain == libc::AF_INET || domain == libc::AF_INET6)
        || listening == 0
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "systemd passed file descriptor {fd} ({name}) that is not a listening TCP socket"
            ),
        ));
    }
    // SAFETY: systemd hands descriptors LISTEN_FDS_START.. to this process for it to own;
    // TAKEN makes sure each is wrapped once, and it was just checked to be a TCP listener.
    let listener = unsafe { TcpListener::from_raw_fd(fd) };
    listener.set_nonblocking(true)?;
    Ok(InheritedListener { name, listener })
}

fn sockopt(fd: RawFd, opt: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: value and len point to properly sized locals for an int-valued option.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("systemd passed file descriptor {fd} that is not a usable socket: {e}"),
        ));
    }
    Ok(value)
}

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::IntoRawFd;

    #[test]
    fn a_listening_tcp_socket_is_adopted_and_accepts() {
        let std_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let fd = std_listener.into_raw_fd();
        let inherited = adopt(fd, "tls".into()).unwrap();
        assert!(inherited.is_tls());
        assert_eq!(inherited.listener.local_addr().unwrap(), addr);
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        inherited.listener.set_nonblocking(false).unwrap();
        let (mut conn, _) = inherited.listener.accept().unwrap();
        client.write_all(b"hi").unwrap();
        let mut buf = [0u8; 2];
        conn.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hi");
    }

    #[test]
    fn udp_and_unconnected_sockets_are_refused_with_the_fd_named() {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let fd = udp.into_raw_fd();
        let err = adopt(fd, "plain".into()).unwrap_err();
        assert!(
            err.to_string().contains(&format!("descriptor {fd}")),
            "{err}"
        );
        // SAFETY: adopt refused it, so the descriptor is still ours to close.
        drop(unsafe { std::net::UdpSocket::from_raw_fd(fd) });

        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = a.into_raw_fd();
        assert!(adopt(fd, "plain".into()).is_err());
        // SAFETY: as above.
        drop(unsafe { std::os::unix::net::UnixStream::from_raw_fd(fd) });
    }

    #[test]
    fn everything_is_a_no_op_outside_systemd() {
        if std::env::var_os("NOTIFY_SOCKET").is_some() || std::env::var_os("LISTEN_FDS").is_some() {
            return; // running under systemd itself; nothing to prove here
        }
        ready("test");
        reloading();
        reloaded("test");
        status("test");
        stopping();
        assert!(inherited_listeners().unwrap().is_empty());
    }
}
