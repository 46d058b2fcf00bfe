//! The server's diagnostics: which `tracing` events reach stderr.
//!
//! An operator asking for `RUST_LOG=debug` wants linechat's commands and CAP exchanges,
//! not tantivy's internals, so a bare level (no target) applies to linechat's own targets
//! and leaves every dependency at `warn`. A directive that names a target
//! (`RUST_LOG=tantivy=debug`, `RUST_LOG=debug,tantivy=info`) is taken exactly as given.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// The filter used when `RUST_LOG` is unset or empty.
pub const DEFAULT_FILTER: &str = "warn,linechat=info";

/// The filter directives for a `RUST_LOG` value: the default when unset or blank, linechat
/// at that level and dependencies at `warn` (or quieter) for a bare level, else the value.
pub fn directives(rust_log: Option<&str>) -> String {
    let Some(value) = rust_log.map(str::trim).filter(|v| !v.is_empty()) else {
        return DEFAULT_FILTER.to_string();
    };
    match value.parse::<LevelFilter>() {
        Ok(level) => {
            let others = level.min(LevelFilter::WARN);
            format!("{},linechat={}", lower(others), lower(level))
        }
        Err(_) => value.to_string(),
    }
}

/// A level as RUST_LOG spells it.
fn lower(level: LevelFilter) -> String {
    level.to_string().to_ascii_lowercase()
}

/// Sends diagnostics to stderr, filtered by [`directives`] of `$RUST_LOG`; colours only on a
/// terminal. A `RUST_LOG` that does not parse is reported and the default used instead.
pub fn init() {
    let rust_log = std::env::var("RUST_LOG").ok();
    let wanted = directives(rust_log.as_deref());
    let filter = match EnvFilter::try_new(&wanted) {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!("chat-server: ignoring RUST_LOG={wanted:?} ({e}); using {DEFAULT_FILTER}");
            EnvFilter::new(DEFAULT_FILTER)
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter)
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_level_is_linechat_s_and_a_named_target_is_kept() {
        assert_eq!(directives(None), "warn,linechat=info");
        assert_eq!(directives(Some(" ")), "warn,linechat=info");
        assert_eq!(directives(Some("debug")), "warn,linechat=debug");
        assert_eq!(directives(Some("DEBUG")), "warn,linechat=debug");
        assert_eq!(directives(Some("trace")), "warn,linechat=trace");
        assert_eq!(directives(Some("info")), "warn,linechat=info");
        assert_eq!(directives(Some("error")), "error,linechat=error");
        assert_eq!(directives(Some("off")), "off,linechat=off");
        assert_eq!(directives(Some("tantivy=debug")), "tantivy=debug");
        assert_eq!(directives(Some("debug,tantivy=info")), "debug,tantivy=info");
        assert_eq!(
            directives(Some("linechat::session=debug")),
            "linechat::session=debug"
        );
        for d in [
            "warn,linechat=debug",
            "off,linechat=off",
            "debug,tantivy=info",
        ] {
            EnvFilter::try_new(d).unwrap();
        }
    }
}
