//! The server's Prometheus metrics: one registry, counted where things happen, rendered by
//! `GET /metrics` in the OpenMetrics text format.
//!
//! Counters and histograms are atomics (prometheus-client), cheap enough for the message
//! path; the gauges that mirror the room state (registered users, rooms) are read from it
//! when scraped rather than kept in step on every change.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// How a client is connected, the label of the connection gauge.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Transport {
    /// Plain TCP (telnet, nc, IRC clients).
    Plain,
    /// TLS over TCP.
    Tls,
    /// WebSocket over plain HTTP.
    Websocket,
    /// WebSocket over HTTPS.
    WebsocketTls,
}

impl Transport {
    /// The name used in logs and labels.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Plain => "plain",
            Transport::Tls => "tls",
            Transport::Websocket => "websocket",
            Transport::WebsocketTls => "websocket_tls",
        }
    }
}

/// Label set of the connection gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransportLabel {
    /// [`Transport::name`].
    pub transport: &'static str,
}

/// Every metric the server keeps.
pub struct Metrics {
    registry: Registry,
    connections: Family<TransportLabel, Gauge>,
    registered_users: Gauge,
    rooms: Gauge,
    /// Messages accepted and relayed (PRIVMSG/NOTICE/TAGMSG to rooms and users).
    pub messages_relayed: Counter,
    /// Rows written to the archive.
    pub messages_archived: Counter,
    /// From a message's hand-over to the archive writer until its row was written.
    pub archive_write_seconds: Histogram,
    /// SEARCH answers, from the command to the results.
    pub search_seconds: Histogram,
    /// Clients dropped because their hard sendq overflowed.
    pub sendq_disconnects: Counter,
    /// Input lines held back by flood control before being read.
    pub flood_paced_lines: Counter,
    /// Cluster nodes heard from lately (0 for a single server).
    cluster_nodes: Gauge,
    /// Events in the network's stream not yet applied here.
    cluster_stream_lag: Gauge,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn get() -> &'static Metrics {
    &METRICS
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("linechat");
        let connections = Family::<TransportLabel, Gauge>::default();
        // Every transport is shown from the start, at 0.
        for transport in [
            Transport::Plain,
            Transport::Tls,
            Transport::Websocket,
            Transport::WebsocketTls,
        ] {
            let _ = connections.get_or_create(&TransportLabel {
                transport: transport.name(),
            });
        }
        registry.register(
            "connections",
            "Open client connections, by transport",
            connections.clone(),
        );
        let registered_users = Gauge::default();
        registry.register(
            "registered_users",
            "Clients that completed registration",
            registered_users.clone(),
        );
        let rooms = Gauge::default();
        registry.register("rooms", "Rooms that exist", rooms.clone());
        let messages_relayed = Counter::default();
        registry.register(
            "messages_relayed",
            "Messages accepted and relayed to rooms and users",
            messages_relayed.clone(),
        );
        let messages_archived = Counter::default();
        registry.register(
            "messages_archived",
            "Rows written to the CSV archive",
            messages_archived.clone(),
        );
        // 50 µs to ~1.6 s.
        let archive_write_seconds = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        registry.register(
            "archive_write_seconds",
            "Time from a message's hand-over to the archive until its row was written",
            archive_write_seconds.clone(),
        );
        // 100 µs to ~3.3 s.
        let search_seconds = Histogram::new(exponential_buckets(0.000_1, 2.0, 16));
        registry.register(
            "search_seconds",
            "Time to answer a SEARCH",
            search_seconds.clone(),
        );
        let sendq_disconnects = Counter::default();
        registry.register(
            "sendq_disconnects",
            "Clients dropped because their send queue overflowed",
            sendq_disconnects.clone(),
        );
        let flood_paced_lines = Counter::default();
        registry.register(
            "flood_paced_lines",
            "Input lines held back by flood control",
            flood_paced_lines.clone(),
        );
        let cluster_nodes = Gauge::default();
        registry.register(
            "cluster_nodes",
            "Cluster nodes heard from in the last few seconds (0: not a cluster node)",
            cluster_nodes.clone(),
        );
        let cluster_stream_lag = Gauge::default();
        registry.register(
            "cluster_stream_lag",
            "Events in the network's JetStream stream this node has not applied yet",
            cluster_stream_lag.clone(),
        );
        Metrics {
            cluster_nodes,
            cluster_stream_lag,
            registry,
            connections,
            registered_users,
            rooms,
            messages_relayed,
            messages_archived,
            archive_write_seconds,
            search_seconds,
            sendq_disconnects,
            flood_paced_lines,
        }
    }

    /// Counts a connection of `transport` open until the guard drops.
    pub fn connection(&'static self, transport: Transport) -> ConnectionGuard {
        self.connections
            .get_or_create(&TransportLabel {
                transport: transport.name(),
            })
            .inc();
        ConnectionGuard {
            metrics: self,
            transport,
        }
    }

    /// The OpenMetrics text of every metric, with the state gauges set from `users` and
    /// `rooms` first.
    pub fn render(
        &self,
        users: usize,
        rooms: usize,
        cluster: Option<&crate::cluster::ClusterStatus>,
    ) -> String {
        self.registered_users.set(users as i64);
        self.rooms.set(rooms as i64);
        if let Some(c) = cluster {
            self.cluster_nodes.set(c.nodes.len() as i64);
            self.cluster_stream_lag.set(c.lag() as i64);
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Records a duration in seconds.
pub fn observe(histogram: &Histogram, elapsed: Duration) {
    histogram.observe(elapsed.as_secs_f64());
}

/// One open connection in the connection gauge; drops it when the connection ends.
pub struct ConnectionGuard {
    metrics: &'static Metrics,
    transport: Transport,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.metrics
            .connections
            .get_or_create(&TransportLabel {
                transport: self.transport.name(),
            })
            .dec();
    }
}
