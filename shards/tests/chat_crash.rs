//! The crash test of the durable log: a real `switchboard serve --mode chat` process is killed with SIGKILL
//! in the middle of heavy sending; after a restart every acknowledged message is there exactly once, in
//! order, and retries of the unacknowledged ones are stored at most once.

mod chat_support;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chat_support::{message_id, run, token, Client, KEY_HEX, KEY_ID};
use switchboard_protocol::app::{Message, SendMessage};
use switchboard_shards::auth::Role;

const TENANT: u64 = 3;
const CUSTOMERS: u64 = 6;
/// Sends each customer keeps outstanding (not yet acked).
const WINDOW: u64 = 16;
/// Upper bound of sends per customer, so the test is bounded even if the kill comes late.
const SENDS_MAX: u64 = 5_000;
const START_TIMEOUT: Duration = Duration::from_secs(30);

struct Serve {
    child: Child,
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn write_config(dir: &Path, addr: SocketAddr, durability: &str) -> PathBuf {
    let config = format!(
        "listen = \"{addr}\"\nshards = 2\nmode = \"chat\"\nadmin_listen = \"off\"\n\
         data_dir = \"{data}\"\n[chat]\nreplay_messages_max = 100000\nreplay_bytes_max = 67108864\nrouting_enabled = false\n\
         connection_requests_per_second_max = 10000000\nuser_requests_per_second_max = 10000000\n\
         [log]\ndurability = \"{durability}\"\n\
         [auth]\nactive_key_id = \"{KEY_ID}\"\nkeys = [{{ id = \"{KEY_ID}\", secret_hex = \"{KEY_HEX}\" }}]\n",
        data = dir.join("data").display()
    );
    let path = dir.join("serve.toml");
    std::fs::write(&path, config).unwrap();
    path
}

impl Serve {
    fn start(dir: &Path, config: &Path, run_index: u32) -> Serve {
        let log = std::fs::File::create(dir.join(format!("serve-{run_index}.log"))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["serve", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn the switchboard binary");
        Serve { child }
    }

    fn kill(&mut self) {
        // SIGKILL: no drain, no flush, no destructor.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn connect(addr: SocketAddr, user: u64) -> Client {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(mut client) = Client::try_connect_raw(addr).await {
            client
                .hello(&token(TENANT, user, Role::Customer, &[]))
                .await;
            return client;
        }
        assert!(Instant::now() < deadline, "server did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One customer's sending until the connection dies: returns (conversation, acked seq → message number,
/// highest message number sent).
async fn send_until_killed(addr: SocketAddr, user: u64) -> (u64, HashMap<u64, u64>, u64) {
    let mut client = connect(addr, user).await;
    let base = user * 1_000_000;
    client.send(0, message_id(base), "opening").await;
    let Message::Ack(first) = client.next().await.message else {
        panic!("expected the opening ack");
    };
    let conversation = first.conversation_id;
    let mut acked = HashMap::from([(first.sequence, base)]);
    let mut sent = 0;
    let mut outstanding = 0;
    'outer: while sent < SENDS_MAX {
        while outstanding < WINDOW && sent < SENDS_MAX {
            sent += 1;
            let send = Message::Send(SendMessage {
                message_id: message_id(base + sent),
                conversation_id: conversation,
                text: format!("m{sent}"),
            });
            if !client.try_send_frame(send).await {
                break 'outer;
            }
            outstanding += 1;
        }
        match client.try_next(Duration::from_secs(10)).await {
            Some(frame) => {
                if let Message::Ack(ack) = frame.message {
                    let number = u64::from_be_bytes(ack.message_id.0[8..].try_into().unwrap());
                    assert!(
                        acked.insert(ack.sequence, number).is_none(),
                        "sequence acked twice"
                    );
                    outstanding -= 1;
                }
            }
            None => break,
        }
    }
    (conversation, acked, sent)
}

#[test]
fn sigkill_during_heavy_sending_loses_no_acknowledged_message() {
    let dir = std::env::temp_dir().join(format!("switchboard-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let addr = free_port();
    let config = write_config(&dir, addr, "fsync");
    let mut serve = Serve::start(&dir, &config, 0);
    let run_dir = dir.clone();
    run(async move {
        let dir = run_dir;
        // The kill timer starts once the server answers (start-up is slow on a loaded machine).
        drop(connect(addr, 999).await);
        let mut tasks = Vec::new();
        for user in 1..=CUSTOMERS {
            tasks.push(tokio::spawn(send_until_killed(addr, user)));
        }
        // Let the load build, then kill the process mid-stream.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        serve.kill();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        let total: usize = results.iter().map(|(_, acked, _)| acked.len()).sum();
        let sent: u64 = results.iter().map(|(_, _, sent)| sent).sum();
        eprintln!("before the kill: {sent} sent, {total} acknowledged");
        assert!(
            total > 100,
            "too little was acknowledged before the kill ({total})"
        );

        let mut serve = Serve::start(&dir, &config, 1);
        for (index, (conversation, acked, sent)) in results.into_iter().enumerate() {
            let user = index as u64 + 1;
            let base = user * 1_000_000;
            let mut client = connect(addr, user).await;
            client.resume(&[(conversation, 0)]).await;
            let stored = read_replay(&mut client).await;
            // Exactly once and in order: sequences 1..=n, each message number at most once, ascending.
            for (position, (sequence, _)) in stored.iter().enumerate() {
                assert_eq!(*sequence, position as u64 + 1, "gapless sequences");
            }
            let numbers: Vec<u64> = stored.iter().map(|(_, number)| *number).collect();
            assert!(
                numbers.windows(2).all(|w| w[0] < w[1]),
                "in send order, no duplicates"
            );
            for (sequence, number) in &acked {
                assert_eq!(
                    stored.get(*sequence as usize - 1).map(|s| s.1),
                    Some(*number),
                    "acked message {number} at sequence {sequence} survived"
                );
            }
            // Retrying every message sent (acked or not) stores each at most once.
            let before = stored.len() as u64;
            for n in 0..=sent {
                client
                    .send(conversation, message_id(base + n), "retry")
                    .await;
            }
            let mut highest = 0;
            for _ in 0..=sent {
                match client.next().await.message {
                    Message::Ack(ack) => highest = highest.max(ack.sequence),
                    other => panic!("expected ack, got {other:?}"),
                }
            }
            assert_eq!(
                highest,
                sent + 1,
                "every message stored exactly once (had {before})"
            );
        }
        serve.kill();
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// Reads a resume's answer: (sequence, message number) in sequence order, until the stream is quiet.
async fn read_replay(client: &mut Client) -> Vec<(u64, u64)> {
    let mut stored = Vec::new();
    while let Some(frame) = client.try_next(Duration::from_millis(1_500)).await {
        match frame.message {
            Message::Deliver(deliver) => {
                let number = u64::from_be_bytes(deliver.message_id.0[8..].try_into().unwrap());
                stored.push((deliver.sequence, number));
            }
            Message::Replay(_) => {}
            other => panic!("unexpected frame in replay: {other:?}"),
        }
    }
    stored.sort_unstable();
    stored
}
