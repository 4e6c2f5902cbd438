//! The platform's root certificates, read **once** per cold start, and every TLS client of a function built from
//! them: the identity server's and the API's (one `rustls::ClientConfig`) and the AWS SDK's HTTP client (given the
//! same roots, so it never reads the certificate directory itself).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rustls::pki_types::CertificateDer;
use std::sync::Arc;

/// The distributions' root bundles: Amazon Linux 2023 (Lambda's `provided.al2023`) and RHEL, Debian and Ubuntu,
/// older RHEL, openSUSE, Alpine.
const BUNDLES: [&str; 5] = [
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The usable platform roots: as read (for the SDK's PEM bundle) and as parsed once into a trust store (ours).
pub struct Roots {
    certs: Vec<CertificateDer<'static>>,
    store: Arc<rustls::RootCertStore>,
}

impl Roots {
    /// Reads the platform's roots and keeps those rustls can use: what `SSL_CERT_FILE`/`SSL_CERT_DIR` name where
    /// either is set; else the distribution's bundle file alone, where there is one (the certificate directory
    /// beside it holds the same roots once more, one file each: reading it cost ~2.6 ms of a cold start,
    /// BENCHMARKS.md); else whatever the platform has.
    pub fn load() -> Result<Self, String> {
        let configured = ["SSL_CERT_FILE", "SSL_CERT_DIR"].iter().any(|v| std::env::var_os(v).is_some());
        let bundle = BUNDLES.iter().map(std::path::Path::new).find(|p| p.is_file());
        let (certs, errors) = match bundle {
            Some(file) if !configured => match std::fs::read(file) {
                Ok(pem) => (pem_certificates(&pem), vec![]),
                Err(e) => (vec![], vec![format!("{}: {e}", file.display())]),
            },
            _ => {
                let loaded = rustls_native_certs::load_native_certs();
                (loaded.certs, loaded.errors.iter().map(|e| e.to_string()).collect())
            }
        };
        let mut store = rustls::RootCertStore::empty();
        let usable: Vec<_> = certs.into_iter().filter(|c| store.add(c.clone()).is_ok()).collect();
        if usable.is_empty() {
            return Err(format!("no usable root certificates found ({errors:?})"));
        }
        Ok(Roots { certs: usable, store: Arc::new(store) })
    }

    /// TLS 1.2/1.3 with aws-lc-rs, trusting these roots: for the identity-server and API clients.
    pub fn client_config(&self) -> Result<rustls::ClientConfig, rustls::Error> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        Ok(rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(self.store.clone())
            .with_no_client_auth())
    }

    /// The AWS SDK's HTTPS client (rustls with aws-lc-rs), trusting these roots and no others; of them, only Amazon
    /// Trust Services' where the SDK talks to AWS's own endpoints ([`sdk_roots`]).
    pub fn sdk_http_client(&self) -> Result<aws_smithy_runtime_api::client::http::SharedHttpClient, String> {
        use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
        let env = |k: &str| std::env::var(k).ok();
        // A custom endpoint over TLS may be anyone's; over plain HTTP (DynamoDB Local) no root is ever used.
        let custom_tls = env("AWS_ENDPOINT_URL_DYNAMODB").is_some_and(|e| !e.starts_with("http://"));
        let certs = self.sdk_roots(env("AWS_REGION").as_deref(), custom_tls);
        let trust = TrustStore::empty().with_native_roots(false).with_pem_certificate(pem(certs));
        let context = TlsContext::builder().with_trust_store(trust).build().map_err(|e| e.to_string())?;
        Ok(aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context)
            .build_https())
    }

    /// The roots the SDK needs. It calls DynamoDB only (the secret comes through the Lambda extension over loopback
    /// HTTP), and AWS's endpoints present Amazon Trust Services chains (Amazon Root CA 1–4, cross-signed by
    /// Starfield Services G2): trusting those alone is narrower, and the SDK parses its PEM bundle with a
    /// constant-time decoder at every cold start. China regions and a custom TLS endpoint get every root, and so
    /// does a bundle without Amazon's.
    fn sdk_roots(&self, region: Option<&str>, custom_tls_endpoint: bool) -> Vec<&CertificateDer<'static>> {
        const AMAZON: [&[u8]; 2] = [b"Amazon Root CA ", b"Starfield Services Root Certificate Authority - G2"];
        let aws_only = !custom_tls_endpoint && !region.is_some_and(|r| r.starts_with("cn-"));
        // `store.roots` holds the anchors of `certs`, in the same order (`load` added them one by one).
        let chosen: Vec<_> = (self.certs.iter().zip(&self.store.roots))
            .filter(|(_, anchor)| {
                let subject: &[u8] = anchor.subject.as_ref();
                !aws_only || AMAZON.iter().any(|name| subject.windows(name.len()).any(|w| w == *name))
            })
            .map(|(cert, _)| cert)
            .collect();
        if chosen.is_empty() { self.certs.iter().collect() } else { chosen }
    }
}

/// Roots as one PEM bundle (what the SDK's trust store takes).
fn pem<'a>(certs: impl IntoIterator<Item = &'a CertificateDer<'static>>) -> Vec<u8> {
    let mut out = String::new();
    for cert in certs {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let b64 = STANDARD.encode(cert.as_ref());
        for line in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out.into_bytes()
}

/// The certificates of a PEM bundle. Not rustls-pki-types' PEM reader: it decodes base64 in constant time, as keys
/// need, and that decode was the largest single item of a cold start (18 % of its CPU in `perf`). Certificates are
/// public; a block that does not decode is skipped, as the bundle's other entries are not certificates.
fn pem_certificates(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    let mut certs = vec![];
    let mut body: Option<Vec<u8>> = None;
    for line in pem.split(|b| *b == b'\n').map(|l| l.trim_ascii()) {
        match (line, body.as_mut()) {
            (b"-----BEGIN CERTIFICATE-----", _) => body = Some(Vec::with_capacity(2048)),
            (b"-----END CERTIFICATE-----", Some(b64)) => {
                if let Ok(der) = STANDARD.decode(&b64) {
                    certs.push(CertificateDer::from(der));
                }
                body = None;
            }
            (_, Some(b64)) => b64.extend_from_slice(line),
            (_, None) => {}
        }
    }
    certs
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn the_pem_bundle_holds_every_root_once() {
        let roots = Roots::load().expect("this machine has root certificates");
        let pem = pem(&roots.certs);
        let back: Vec<_> = CertificateDer::pem_slice_iter(&pem).collect::<Result<_, _>>().unwrap();
        assert_eq!(back, roots.certs);
        assert_eq!(roots.store.len(), roots.certs.len());
    }

    #[test]
    fn the_sdk_trusts_amazons_roots_for_aws_endpoints_and_every_root_otherwise() {
        let roots = Roots::load().expect("this machine has root certificates");
        let aws = roots.sdk_roots(Some("eu-west-1"), false);
        assert!(!aws.is_empty() && aws.len() < roots.certs.len(), "{} of {}", aws.len(), roots.certs.len());
        assert_eq!(roots.sdk_roots(Some("cn-north-1"), false).len(), roots.certs.len());
        assert_eq!(roots.sdk_roots(Some("eu-west-1"), true).len(), roots.certs.len());
    }

    #[test]
    fn the_bundle_reads_as_rustls_reads_it() {
        let bundle = BUNDLES.iter().find(|p| std::path::Path::new(p).is_file()).expect("a bundle on this machine");
        let pem = std::fs::read(bundle).unwrap();
        let theirs: Vec<_> = CertificateDer::pem_slice_iter(&pem).collect::<Result<_, _>>().unwrap();
        assert!(!theirs.is_empty());
        assert_eq!(pem_certificates(&pem), theirs);
        let crlf = String::from_utf8(pem).unwrap().replace('\n', "\r\n");
        assert_eq!(pem_certificates(crlf.as_bytes()), theirs);
    }
}
