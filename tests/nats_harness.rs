//! The nats-server harness (tests/common/nats.rs) itself: real servers with JetStream on
//! loopback, spoken to over raw TCP (the NATS protocol and the monitoring HTTP port).
//! Skipped where nats-server is not installed, except under CI.

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::nats::{NatsCluster, NatsServer, require_nats};

const STREAM: &str =
    r#"{"name":"HARNESS","subjects":["harness.>"],"storage":"file","num_replicas":REPLICAS}"#;

/// Creates the HARNESS stream with `replicas` through `server` and stores one message.
fn create_stream_with_one_message(server: &NatsServer, replicas: u32) {
    let config = STREAM.replace("REPLICAS", &replicas.to_string());
    let created = server
        .request("$JS.API.STREAM.CREATE.HARNESS", &config)
        .unwrap();
    assert!(
        created.contains("stream_create_response") && !created.contains("\"error\""),
        "{created}"
    );
    // The stream's subscription reaches the other servers of a cluster a moment after
    // the create answer: until then the publish finds no responders.
    let deadline = Instant::now() + Duration::from_secs(10);
    let ack = loop {
        match server.request("harness.one", "hello") {
            Ok(ack) => break ack,
            Err(e) if Instant::now() < deadline && e.to_string().contains("503") => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("publish via {}: {e}", server.name()),
        }
    };
    assert!(
        ack.contains(r#""stream":"HARNESS""#) && ack.contains(r#""seq":1"#),
        "{ack}"
    );
}

/// The HARNESS stream's info, asked through `server`.
fn stream_info(server: &NatsServer) -> serde_json::Value {
    let info = server
        .request("$JS.API.STREAM.INFO.HARNESS", "")
        .unwrap_or_else(|e| panic!("STREAM.INFO via {}: {e}", server.name()));
    serde_json::from_str(&info).unwrap_or_else(|e| panic!("{e}: {info}"))
}

/// The HARNESS stream's message count, as `server` reports it.
fn stream_messages(server: &NatsServer) -> u64 {
    let info = stream_info(server);
    info["state"]["messages"]
        .as_u64()
        .unwrap_or_else(|| panic!("no state.messages in {info}"))
}

fn assert_jetstream_info(server: &NatsServer) -> String {
    let info = server.info().unwrap();
    assert!(info.starts_with("INFO {"), "{info}");
    assert!(info.contains(r#""jetstream":true"#), "{info}");
    let name = format!(r#""server_name":"{}""#, server.name());
    assert!(info.contains(&name), "{info}");
    info
}

#[test]
fn single_server_restarts_on_its_port_with_its_store() {
    if require_nats().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut server = NatsServer::start(tmp.path());
    let port = server.port();
    assert_eq!(server.url(), format!("nats://127.0.0.1:{port}"));
    assert_jetstream_info(&server);
    server.ping().unwrap();
    create_stream_with_one_message(&server, 1);

    server.kill();
    assert!(!server.is_running());
    assert!(
        TcpStream::connect(server.addr()).is_err(),
        "a killed server still accepts on {port}"
    );

    server.restart();
    assert_eq!(server.port(), port);
    assert_jetstream_info(&server);
    // The stream and its message came back from the same store directory.
    assert_eq!(stream_messages(&server), 1);
    assert!(server.log_text().contains("Server is ready"));
}

#[test]
fn cluster_of_three_keeps_answering_with_one_killed() {
    if require_nats().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut cluster = NatsCluster::start3(tmp.path());
    assert_eq!(cluster.servers.len(), 3);
    let urls: Vec<String> = cluster.servers.iter().map(NatsServer::url).collect();
    assert_eq!(cluster.urls(), urls.join(","));
    let mut ports: Vec<u16> = cluster.servers.iter().map(NatsServer::port).collect();
    ports.dedup();
    assert_eq!(ports.len(), 3, "{urls:?}");

    for server in &cluster.servers {
        let info = assert_jetstream_info(server);
        assert!(info.contains(r#""cluster":"linechat-test""#), "{info}");
        let jsz = server.jsz();
        assert_eq!(jsz["meta_cluster"]["cluster_size"], 3, "{jsz}");
    }
    let leader = cluster.wait_meta_leader();
    let leader_index = cluster
        .index_of(&leader)
        .expect("the leader is one of ours");

    // A replicated stream: the meta group and a stream group both work.
    create_stream_with_one_message(&cluster.servers[0], 3);

    // A follower of both the meta group and the stream: the two others keep answering
    // JetStream requests at once (killing a leader silences its group's API for the few
    // seconds of an election).
    let info = stream_info(&cluster.servers[0]);
    let stream_leader = info["cluster"]["leader"].as_str().unwrap_or_default();
    let stream_leader_index = cluster
        .index_of(stream_leader)
        .unwrap_or_else(|| panic!("no stream leader in {info}"));
    let victim = (0..3)
        .find(|&i| i != leader_index && i != stream_leader_index)
        .unwrap();
    cluster.kill(victim);
    assert!(TcpStream::connect(cluster.servers[victim].addr()).is_err());
    for (i, server) in cluster.servers.iter().enumerate() {
        if i != victim {
            assert_jetstream_info(server);
            server.ping().unwrap();
            assert_eq!(stream_messages(server), 1, "via {}", server.name());
        }
    }
    assert_eq!(cluster.meta_leader(), Some(leader.clone()));

    cluster.restart(victim);
    assert_eq!(cluster.servers[victim].port(), ports[victim]);
    cluster.servers[victim].ping().unwrap();
    cluster.wait_meta_leader();
    assert_eq!(stream_messages(&cluster.servers[victim]), 1);
}
