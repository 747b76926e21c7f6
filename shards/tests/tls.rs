//! TLS termination on the listen port (issue 17), on both engines: a page over `https://`, a WebSocket
//! upgrade and `hello` over `wss://`, a client that speaks plain TCP to the TLS port is dropped without
//! harm, and the certificate reloads.

mod chat_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use chat_support::{chat_config, data_dir, start, stop, token};
use switchboard_shards::auth::Role;
use switchboard_shards::config::Engine;
use switchboard_shards::tls::TlsFiles;

/// A self-signed certificate for `localhost` (P-256), made with the system's `openssl`.
fn make_certificate(dir: &Path) -> TlsFiles {
    let files = TlsFiles {
        cert_file: dir.join("cert.pem"),
        key_file: dir.join("key.pem"),
    };
    let status = Command::new("openssl")
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
        // An end-entity certificate (webpki refuses a CA certificate as the server's own).
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&files.key_file)
        .arg("-out")
        .arg(&files.cert_file)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl made a certificate");
    files
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS client connection that trusts only `cert`.
fn connect_tls(addr: SocketAddr, cert: &Path) -> TlsStream {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(cert).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let client = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let socket = TcpStream::connect(addr).unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    rustls::StreamOwned::new(client, socket)
}

/// Reads an HTTP head (up to the blank line).
fn read_head(stream: &mut impl Read) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("a complete head");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// One unfragmented server text frame's payload.
fn read_text_frame(stream: &mut impl Read) -> String {
    let mut header = [0u8; 2];
    stream.read_exact(&mut header).unwrap();
    assert_eq!(header[0], 0x81, "a final text frame");
    let len = match header[1] & 0x7F {
        126 => {
            let mut extended = [0u8; 2];
            stream.read_exact(&mut extended).unwrap();
            usize::from(u16::from_be_bytes(extended))
        }
        127 => panic!("unexpectedly large"),
        short => usize::from(short),
    };
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).unwrap();
    String::from_utf8(payload).unwrap()
}

/// A masked client text frame (mask key 0).
fn text_frame(text: &str) -> Vec<u8> {
    assert!(text.len() < 126);
    let mut frame = vec![0x81, 0x80 | text.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(text.as_bytes());
    frame
}

fn serves_pages_and_websockets_over_tls(engine: Engine, name: &str) {
    let dir = data_dir(name);
    let files = make_certificate(&dir);
    let mut config = chat_config(1, &dir);
    config.engine = engine;
    config.tls = Some(files.clone());
    let server = start(&config);
    let addr = server.local_addr();

    // A page over https.
    let mut page = connect_tls(addr, &files.cert_file);
    page.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let head = read_head(&mut page);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    // A WebSocket over wss, authenticated by the token in the query, then hello/welcome.
    let mut ws = connect_tls(addr, &files.cert_file);
    let token = token(1, 42, Role::Customer, &[]);
    write!(
        ws,
        "GET /ws?token={token} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: switchboard.json.v1\r\n\r\n"
    )
    .unwrap();
    let head = read_head(&mut ws);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    ws.write_all(&text_frame(r#"{"kind":"hello","protocol_version":1}"#))
        .unwrap();
    let welcome = read_text_frame(&mut ws);
    assert!(welcome.contains("\"kind\":\"welcome\""), "{welcome}");

    // Plain TCP to the TLS port: the handshake fails and the connection is dropped; others go on.
    let mut plain = TcpStream::connect(addr).unwrap();
    plain
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut rest = Vec::new();
    let _ = plain.read_to_end(&mut rest);
    assert!(!String::from_utf8_lossy(&rest).contains("200 OK"));
    ws.write_all(&text_frame(r#"{"kind":"ping","timestamp_ms":1}"#))
        .unwrap();
    assert!(read_text_frame(&mut ws).contains("\"kind\":\"pong\""));

    // SIGHUP's reload: a new certificate for new connections.
    let renewed = make_certificate(&dir);
    assert!(matches!(server.reload_tls(), Some(Ok(()))));
    let mut after = connect_tls(addr, &renewed.cert_file);
    after
        .write_all(b"GET /app.css HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert!(read_head(&mut after).starts_with("HTTP/1.1 200"));
    stop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn tls_on_io_uring() {
    serves_pages_and_websockets_over_tls(Engine::IoUring, "tls-uring");
}

#[test]
fn tls_on_epoll() {
    serves_pages_and_websockets_over_tls(Engine::Epoll, "tls-epoll");
}

#[test]
fn a_bad_certificate_file_fails_the_start_with_the_path() {
    let dir = data_dir("tls-bad");
    std::fs::write(dir.join("cert.pem"), "not a certificate").unwrap();
    std::fs::write(dir.join("key.pem"), "not a key").unwrap();
    let mut config = chat_config(1, &dir);
    config.tls = Some(TlsFiles {
        cert_file: dir.join("cert.pem"),
        key_file: dir.join("key.pem"),
    });
    let Err(error) = switchboard_shards::server::Server::start(&config) else {
        panic!("a bad certificate must fail the start");
    };
    assert!(error.to_string().contains("cert.pem"), "{error}");
    let _ = std::fs::remove_dir_all(dir);
}
