//! The cost of TLS termination (issue 17): what the server spends per connection on the handshake and per
//! message on encrypting and decrypting records, with the same rustls configuration the server uses (ring
//! provider, safe defaults, a P-256 certificate), in memory so the figure is CPU only. Compare with
//! `ws_frame_encode` / `ws_assemble` (the WebSocket work per message without TLS).
//!
//! Run: `cargo bench -p switchboard-bench --bench tls` (needs the `openssl` command for the test
//! certificate). Smoke: `... --bench tls -- --warm-up-time 0.2 --measurement-time 0.5`.

use std::hint::black_box;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use rustls::{ClientConnection, ServerConnection};
use switchboard_shards::tls::{TlsFiles, TlsTerminator};

/// Payload sizes, as in the WebSocket benchmarks.
const PAYLOAD_SIZES_BYTES: [usize; 3] = [64, 1024, 16 * 1024];

fn certificate(dir: &Path) -> TlsFiles {
    let files = TlsFiles {
        cert_file: dir.join("cert.pem"),
        key_file: dir.join("key.pem"),
    };
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&files.key_file)
        .arg("-out")
        .arg(&files.cert_file)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("the openssl command");
    assert!(status.success());
    files
}

fn client_config(cert: &Path) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(cert).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Moves every pending record from `from` to `to`.
fn pump(from: &mut impl WriteTls, to: &mut impl ReadTls, wire: &mut Vec<u8>) {
    wire.clear();
    while from.wants() {
        from.write_out(wire);
    }
    let mut input = &wire[..];
    while !input.is_empty() {
        to.read_in(&mut input);
    }
}

trait WriteTls {
    fn wants(&self) -> bool;
    fn write_out(&mut self, wire: &mut Vec<u8>);
}
trait ReadTls {
    fn read_in(&mut self, input: &mut &[u8]);
}
impl WriteTls for ClientConnection {
    fn wants(&self) -> bool {
        self.wants_write()
    }
    fn write_out(&mut self, wire: &mut Vec<u8>) {
        self.write_tls(wire).unwrap();
    }
}
impl WriteTls for ServerConnection {
    fn wants(&self) -> bool {
        self.wants_write()
    }
    fn write_out(&mut self, wire: &mut Vec<u8>) {
        self.write_tls(wire).unwrap();
    }
}
impl ReadTls for ClientConnection {
    fn read_in(&mut self, input: &mut &[u8]) {
        self.read_tls(input).unwrap();
        self.process_new_packets().unwrap();
    }
}
impl ReadTls for ServerConnection {
    fn read_in(&mut self, input: &mut &[u8]) {
        self.read_tls(input).unwrap();
        self.process_new_packets().unwrap();
    }
}

/// A completed client/server pair.
fn pair(
    server: &TlsTerminator,
    client: &Arc<rustls::ClientConfig>,
) -> (ClientConnection, ServerConnection) {
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut c = ClientConnection::new(Arc::clone(client), name).unwrap();
    let mut s = server.raw_session().unwrap();
    let mut wire = Vec::new();
    while c.is_handshaking() || s.is_handshaking() {
        pump(&mut c, &mut s, &mut wire);
        pump(&mut s, &mut c, &mut wire);
    }
    (c, s)
}

fn benches(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("sb-tls-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files = certificate(&dir);
    let server = TlsTerminator::load(&files).unwrap();
    let client = client_config(&files.cert_file);

    let mut group = c.benchmark_group("tls_handshake");
    group.throughput(Throughput::Elements(1));
    group.bench_function("full_both_sides", |b| {
        b.iter(|| black_box(pair(&server, &client)))
    });
    group.finish();

    let mut group = c.benchmark_group("tls_record");
    for size in PAYLOAD_SIZES_BYTES {
        let (mut c_conn, mut s_conn) = pair(&server, &client);
        let payload = vec![7u8; size];
        let mut wire = Vec::with_capacity(size + 64);
        let mut plain = vec![0u8; size + 64];
        group.throughput(Throughput::Bytes(size as u64));
        // What the server spends to send one message: encrypt into a record.
        group.bench_with_input(
            BenchmarkId::new("server_encrypt", size),
            &payload,
            |b, payload| {
                b.iter(|| {
                    s_conn.writer().write_all(black_box(payload)).unwrap();
                    wire.clear();
                    s_conn.write_tls(&mut wire).unwrap();
                    black_box(wire.len())
                })
            },
        );
        // What the server spends to receive one: decrypt a client record (prepared outside the timing).
        group.bench_with_input(
            BenchmarkId::new("server_decrypt", size),
            &payload,
            |b, payload| {
                b.iter_batched(
                    || {
                        c_conn.writer().write_all(payload).unwrap();
                        let mut record = Vec::new();
                        c_conn.write_tls(&mut record).unwrap();
                        record
                    },
                    |record| {
                        let mut input = &record[..];
                        s_conn.read_tls(&mut input).unwrap();
                        s_conn.process_new_packets().unwrap();
                        let n = s_conn.reader().read(&mut plain).unwrap();
                        black_box(n)
                    },
                    criterion::BatchSize::SmallInput,
                )
            },
        );
    }
    group.finish();
    let _ = std::fs::remove_dir_all(dir);
}

fn run() {
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion);
}

criterion_main!(run);
