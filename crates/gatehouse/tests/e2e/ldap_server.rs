//! A real OpenLDAP server for the user-store tests: Debian's `slapd`, started on free loopback
//! ports with a generated `slapd.conf` (mdb back end, test entries loaded with `slapadd`) and a
//! generated CA and server certificate, serving `ldaps://` and `ldap://` with StartTLS.
//!
//! Active Directory's `sAMAccountName` and `memberOf` come from a tiny schema written here with
//! AD's own OIDs (an auxiliary class `adAccount`), so the AD-style filter is tested as an
//! operator would write it, without the heavy `msuser.schema`.
//!
//! Without `slapd` the tests print a SKIPPED notice and pass, unless
//! `GATEHOUSE_TEST_REQUIRE_SLAPD=1` (set by `.ci/run`, which installs it): then they fail.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::Duration;

/// Set by `.ci/run`: a missing slapd fails the tests instead of skipping them.
pub const REQUIRE_VAR: &str = "GATEHOUSE_TEST_REQUIRE_SLAPD";
/// The service account's password.
pub const SVC_PASSWORD: &str = "svc-secret-1";
pub const SVC_DN: &str = "cn=svc,dc=example,dc=com";
pub const BASE_DN: &str = "ou=people,dc=example,dc=com";

const SCHEMA: &str = "\
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.2.102 NAME 'memberOf'
  EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )
objectclass ( 1.3.6.1.4.1.32473.22.1 NAME 'adAccount' SUP top AUXILIARY
  MAY ( sAMAccountName $ memberOf ) )
";

/// The people of the directory: uid, sAMAccountName, password, mail.
pub const PEOPLE: [(&str, &str, &str, &str); 4] = [
    ("alice", "ALICE.L", "alice-pass-1", "alice@example.com"),
    ("bob", "BOB.B", "bob-pass-1", "bob@example.com"),
    ("carol", "CAROL.C", "carol-pass-1", "carol@example.com"),
    ("dave", "DAVE.D", "dave-pass-1", "dave@example.com"),
];

pub struct Slapd {
    child: Option<Child>,
    dir: tempfile::TempDir,
    slapd: PathBuf,
    ldap_port: u16,
    ldaps_port: u16,
    pub ca_file: PathBuf,
}

impl Slapd {
    /// A running server, or `None` (after a SKIPPED notice) when slapd is not installed.
    pub async fn start() -> Option<Slapd> {
        let Some((slapd, slapadd)) = binaries() else {
            if std::env::var_os(REQUIRE_VAR).is_some() {
                panic!("{REQUIRE_VAR} is set but slapd/slapadd are not installed");
            }
            static NOTICE: Once = Once::new();
            NOTICE.call_once(|| {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "\n*** SKIPPED: LDAP user-store tests: slapd is not installed \
                     (apt-get install slapd ldap-utils; .ci/run installs it and sets \
                     {REQUIRE_VAR}=1) ***\n"
                );
            });
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ca_file = write_certificates(d);
        std::fs::write(d.join("ad.schema"), SCHEMA).unwrap();
        std::fs::create_dir(d.join("db")).unwrap();
        std::fs::write(d.join("slapd.conf"), config(d)).unwrap();
        std::fs::write(d.join("data.ldif"), entries()).unwrap();
        let out = Command::new(&slapadd)
            .arg("-f")
            .arg(d.join("slapd.conf"))
            .arg("-l")
            .arg(d.join("data.ldif"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "slapadd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut server = Slapd {
            child: None,
            slapd,
            ldap_port: free_port(),
            ldaps_port: free_port(),
            ca_file,
            dir,
        };
        server.run().await;
        Some(server)
    }

    /// `ldaps://localhost:PORT`.
    pub fn ldaps_url(&self) -> String {
        format!("ldaps://localhost:{}", self.ldaps_port)
    }

    /// `ldap://localhost:PORT` (for StartTLS).
    pub fn ldap_url(&self) -> String {
        format!("ldap://localhost:{}", self.ldap_port)
    }

    /// Starts slapd (again) on the same ports and waits until it accepts connections.
    pub async fn run(&mut self) {
        let d = self.dir.path();
        let log = std::fs::File::create(d.join("slapd.log")).unwrap();
        let urls = format!(
            "ldap://127.0.0.1:{}/ ldaps://127.0.0.1:{}/",
            self.ldap_port, self.ldaps_port
        );
        // `-d 0`: stay in the foreground (so this test owns the process), log nothing extra.
        let child = Command::new(&self.slapd)
            .arg("-f")
            .arg(d.join("slapd.conf"))
            .args(["-h", &urls, "-d", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        for _ in 0..200 {
            let up = std::net::TcpStream::connect(("127.0.0.1", self.ldaps_port)).is_ok()
                && std::net::TcpStream::connect(("127.0.0.1", self.ldap_port)).is_ok();
            if up {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let log = std::fs::read_to_string(d.join("slapd.log")).unwrap_or_default();
        panic!("slapd did not start: {log}");
    }

    /// Stops slapd (the directory stays on disk for [`Slapd::run`]).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn binaries() -> Option<(PathBuf, PathBuf)> {
    [
        "/usr/sbin",
        "/usr/local/sbin",
        "/usr/libexec",
        "/usr/local/libexec",
    ]
    .iter()
    .map(Path::new)
    .find(|dir| dir.join("slapd").exists() && dir.join("slapadd").exists())
    .map(|dir| (dir.join("slapd"), dir.join("slapadd")))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes a CA and a server certificate for `localhost` / `127.0.0.1` signed by it; returns
/// the CA's file.
fn write_certificates(dir: &Path) -> PathBuf {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "gatehouse test LDAP CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    dir.join("ca.pem")
}

fn config(d: &Path) -> String {
    let module_dir = ["/usr/lib/ldap", "/usr/lib/openldap", "/usr/lib64/openldap"]
        .into_iter()
        .find(|m| Path::new(m).join("back_mdb.so").exists());
    let modules = match module_dir {
        Some(m) => format!("modulepath {m}\nmoduleload back_mdb\n"),
        None => String::new(),
    };
    let d = d.display();
    format!(
        "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include {d}/ad.schema
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
{modules}
TLSCACertificateFile {d}/ca.pem
TLSCertificateFile {d}/server.pem
TLSCertificateKeyFile {d}/server.key

database mdb
maxsize 10485760
suffix \"dc=example,dc=com\"
rootdn \"cn=admin,dc=example,dc=com\"
directory {d}/db
access to attrs=userPassword
  by anonymous auth
  by * none
access to *
  by dn.exact=\"{SVC_DN}\" read
  by self read
  by * none
"
    )
}

fn entries() -> String {
    let mut ldif = format!(
        "dn: dc=example,dc=com
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: {BASE_DN}
objectClass: organizationalUnit
ou: people

dn: {SVC_DN}
objectClass: person
cn: svc
sn: svc
userPassword: {SVC_PASSWORD}
"
    );
    for (uid, sam, password, mail) in PEOPLE {
        ldif.push_str(&format!(
            "
dn: uid={uid},{BASE_DN}
objectClass: inetOrgPerson
objectClass: adAccount
uid: {uid}
cn: {uid} Example
sn: Example
mail: {mail}
telephoneNumber: +1555000{len}
sAMAccountName: {sam}
memberOf: cn=staff,ou=groups,dc=example,dc=com
userPassword: {password}
",
            len = uid.len()
        ));
    }
    ldif
}
