//! Maven settings.xml: render the one a guarded mvn run gets, and read from the user's and the
//! global settings what lockgate needs — `<server>` credentials, `<mirrors>`, `<localRepository>`
//! `<offline>` and `<proxies>` (for lockgate's own downloads).
//!
//! Reading follows Maven 3.8: values are trimmed; `${…}` expressions are interpolated after
//! parsing (`${env.NAME}`, `${user.home}`, other system and `-D` properties; the caller's lookup
//! gets the text between the braces) and left as written when they do not resolve; user settings
//! dominate global ones (`localRepository` if set; mirrors and servers merged by id, user first;
//! `offline` only from user settings). Passwords encrypted with `mvn --encrypt-password`
//! (`{…}`) are detected and refused with a clear message: lockgate does not decrypt them.
//!
//! A guarded run replaces both settings files with one it renders: its own local repository,
//! offline flag and mirror `*` → the gate, plus everything of the user's and global settings that
//! is not about where artifacts come from ([`carry_over`]: servers for `deploy`, proxies,
//! profiles and their properties, active profiles, plugin groups), merged as Maven merges them.

use std::path::{Path, PathBuf};

use super::xml::{self, Element};
use crate::proxy::MavenProxy;

/// The id of the mirror that sends every repository to lockgate's gate.
pub const GATE_MIRROR_ID: &str = "lockgate-gate";

/// Top-level elements about where artifacts come from: lockgate writes its own.
const REPLACED: &[&str] = &["localRepository", "offline", "mirrors"];

/// Lists Maven merges, user entries first: by `<id>`, or by value for lists of plain values.
const MERGED_LISTS: &[(&str, bool)] = &[
    ("servers", true),
    ("proxies", true),
    ("profiles", true),
    ("activeProfiles", false),
    ("pluginGroups", false),
];

/// What a guarded run's settings say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateSettings<'a> {
    /// The gate's base URL; mirror `*` points there.
    pub gate_url: &'a str,
    pub offline: bool,
    pub local_repository: &'a str,
    /// Username and password for the gate mirror, if the gate asks for them.
    pub credentials: Option<(&'a str, &'a str)>,
    /// What the user's and the global settings contribute.
    pub carried: &'a Carried,
}

/// The top-level settings elements carried over from the user's and the global settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Carried(Vec<Element>);

/// Merges the user's (dominant) and the global settings into what a guarded run keeps: every
/// top-level element except `localRepository`, `offline` and `mirrors`. Lists are merged as Maven
/// merges them; a `<server>` with the gate's id is dropped; every proxy gets `127.0.0.1` added to
/// its `nonProxyHosts`, so that Maven talks to the gate directly.
pub fn carry_over(
    user: Option<(&str, &Path)>,
    global: Option<(&str, &Path)>,
) -> Result<Carried, SettingsError> {
    let mut merged: Vec<Element> = Vec::new();
    for (text, file) in user.into_iter().chain(global) {
        let root = parse_root(text, file)?;
        for element in root.children {
            if REPLACED.contains(&element.name.as_str()) {
                continue;
            }
            let by_id = MERGED_LISTS
                .iter()
                .find(|(name, _)| *name == element.name)
                .map(|(_, by_id)| *by_id);
            match (merged.iter_mut().find(|e| e.name == element.name), by_id) {
                (Some(existing), Some(by_id)) => {
                    let key = |e: &Element| {
                        if by_id {
                            e.child_text("id").unwrap_or("default").to_string()
                        } else {
                            e.text.trim().to_string()
                        }
                    };
                    for item in element.children {
                        if !existing.children.iter().any(|seen| key(seen) == key(&item)) {
                            existing.children.push(item);
                        }
                    }
                }
                // A scalar the user already set dominates.
                (Some(_), None) => {}
                (None, _) => merged.push(element),
            }
        }
    }
    for element in &mut merged {
        match element.name.as_str() {
            "servers" => element
                .children
                .retain(|s| s.child_text("id") != Some(GATE_MIRROR_ID)),
            "proxies" => element.children.iter_mut().for_each(bypass_loopback),
            _ => {}
        }
    }
    Ok(Carried(merged))
}

fn bypass_loopback(proxy: &mut Element) {
    match proxy
        .children
        .iter_mut()
        .find(|c| c.name == "nonProxyHosts")
    {
        Some(hosts) => hosts.text = format!("{}|127.0.0.1", hosts.text.trim()),
        None => proxy.children.push(Element {
            name: "nonProxyHosts".into(),
            text: "127.0.0.1".into(),
            children: Vec::new(),
        }),
    }
}

/// The settings.xml of a guarded run. Values are XML-escaped; Maven still interpolates `${…}`
/// and tries to decrypt a `{…}` password in them, so callers pass none (the gate's URL, token
/// and a temporary directory have neither). Carried elements are written as the user wrote them,
/// for Maven to interpolate as it would have.
pub fn render(settings: &GateSettings<'_>) -> String {
    let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
    let mut servers: Vec<Element> = Vec::new();
    if let Some((username, password)) = settings.credentials {
        let leaf = |name: &str, text: &str| Element {
            name: name.into(),
            text: text.into(),
            children: Vec::new(),
        };
        servers.push(Element {
            name: "server".into(),
            text: String::new(),
            children: vec![
                leaf("id", GATE_MIRROR_ID),
                leaf("username", username),
                leaf("password", password),
            ],
        });
    }
    let mut carried = String::new();
    for element in &settings.carried.0 {
        if element.name == "servers" {
            servers.extend(element.children.iter().cloned());
        } else {
            element.write(&mut carried, 1);
        }
    }
    if !servers.is_empty() {
        let list = Element {
            name: "servers".into(),
            text: String::new(),
            children: servers,
        };
        list.write(&mut carried, 1);
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by lockgate for one guarded mvn run. -->
<settings xmlns="http://maven.apache.org/SETTINGS/1.0.0"
          xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
          xsi:schemaLocation="http://maven.apache.org/SETTINGS/1.0.0 https://maven.apache.org/xsd/settings-1.0.0.xsd">
  <localRepository>{local}</localRepository>
  <offline>{offline}</offline>
{carried}  <mirrors>
    <mirror>
      <id>{GATE_MIRROR_ID}</id>
      <name>lockgate: verified artifacts only</name>
      <mirrorOf>*</mirrorOf>
      <url>{url}</url>
    </mirror>
  </mirrors>
</settings>
"#,
        local = esc(settings.local_repository),
        offline = settings.offline,
        url = esc(settings.gate_url),
    )
}

/// What lockgate reads from a settings file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub local_repository: Option<String>,
    pub offline: bool,
    pub servers: Vec<Server>,
    pub mirrors: Vec<Mirror>,
    /// `<proxies>`, in order (Maven uses the first active one per protocol).
    pub proxies: Vec<MavenProxy>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub id: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The settings file it came from, for messages.
    pub file: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    pub id: String,
    pub url: String,
    /// `*`, `external:*`, `central,!internal`, …
    pub mirror_of: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("{}: {what}", file.display())]
    Malformed { file: PathBuf, what: String },
    #[error(
        "server `{id}` in {} has an encrypted password, which lockgate cannot decrypt; put the \
         password in an environment variable and write <password>${{env.NAME}}</password>",
        file.display()
    )]
    EncryptedPassword { id: String, file: PathBuf },
    #[error("server `{id}` in {} has no <{field}>", file.display())]
    MissingField {
        id: String,
        file: PathBuf,
        field: &'static str,
    },
    #[error("server `{id}` in {}: `{expression}` is not set", file.display())]
    Unresolved {
        id: String,
        file: PathBuf,
        expression: String,
    },
}

/// Reads a settings file. `lookup` resolves the inside of `${…}` (`env.HOME`, `user.home`).
pub fn read(
    text: &str,
    file: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, SettingsError> {
    let root = parse_root(text, file)?;
    let value = |e: &Element, name: &str| e.child_text(name).map(|v| interpolate(v, lookup));
    let list = |outer: &str, inner: &'static str| {
        let items = root.child(outer).into_iter();
        items.flat_map(move |list| list.children_named(inner))
    };
    // Maven's reader takes any value but `true` (in any case) as false.
    let offline = value(&root, "offline").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    Ok(Settings {
        local_repository: value(&root, "localRepository").filter(|v| !v.is_empty()),
        offline,
        servers: list("servers", "server")
            .map(|s| Server {
                id: value(s, "id").unwrap_or_else(|| "default".into()),
                username: value(s, "username"),
                password: value(s, "password"),
                file: file.to_path_buf(),
            })
            .collect(),
        mirrors: list("mirrors", "mirror")
            .map(|m| Mirror {
                id: value(m, "id").unwrap_or_else(|| "default".into()),
                url: value(m, "url").unwrap_or_default(),
                mirror_of: value(m, "mirrorOf").unwrap_or_default(),
            })
            .collect(),
        proxies: list("proxies", "proxy")
            .map(|p| MavenProxy {
                id: value(p, "id").unwrap_or_else(|| "default".into()),
                // Maven's reader: `<active>` defaults to true; only `false` turns it off.
                active: !value(p, "active").is_some_and(|v| v.eq_ignore_ascii_case("false")),
                protocol: value(p, "protocol").unwrap_or_else(|| "http".into()),
                host: value(p, "host").unwrap_or_default(),
                port: value(p, "port").and_then(|v| v.parse().ok()),
                username: value(p, "username"),
                password: value(p, "password"),
                non_proxy_hosts: value(p, "nonProxyHosts").unwrap_or_default(),
            })
            .collect(),
    })
}

fn parse_root(text: &str, file: &Path) -> Result<Element, SettingsError> {
    let malformed = |what: String| SettingsError::Malformed {
        file: file.to_path_buf(),
        what,
    };
    let root = xml::parse(text).map_err(|e| malformed(e.to_string()))?;
    if root.name != "settings" {
        return Err(malformed(format!(
            "the root element is <{}>, not <settings>",
            root.name
        )));
    }
    Ok(root)
}

/// Replaces each `${expr}` that `lookup` resolves; others stay as written (as in Maven).
fn interpolate(value: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else {
            break;
        };
        let expression = &rest[start + 2..start + 2 + len];
        out.push_str(&rest[..start]);
        match lookup(expression) {
            Some(resolved) => out.push_str(&resolved),
            None => out.push_str(&rest[start..start + 3 + len]),
        }
        rest = &rest[start + 3 + len..];
    }
    out + rest
}

/// Maven's merge of user (`dominant`) over global (`recessive`) settings.
pub fn merge(user: Settings, global: Settings) -> Settings {
    let mut merged = user;
    if merged.local_repository.is_none() {
        merged.local_repository = global.local_repository;
    }
    for server in global.servers {
        if !merged.servers.iter().any(|s| s.id == server.id) {
            merged.servers.push(server);
        }
    }
    for mirror in global.mirrors {
        if !merged.mirrors.iter().any(|m| m.id == mirror.id) {
            merged.mirrors.push(mirror);
        }
    }
    for proxy in global.proxies {
        if !merged.proxies.iter().any(|p| p.id == proxy.id) {
            merged.proxies.push(proxy);
        }
    }
    merged
}

impl Settings {
    /// The first server with this id (Maven uses the first).
    pub fn server(&self, id: &str) -> Option<&Server> {
        self.servers.iter().find(|s| s.id == id)
    }
}

impl Server {
    /// Username and password, or why they cannot be used.
    pub fn credentials(&self) -> Result<(&str, &str), SettingsError> {
        let username = self.field(&self.username, "username")?;
        let password = self.field(&self.password, "password")?;
        if is_encrypted(password) {
            return Err(SettingsError::EncryptedPassword {
                id: self.id.clone(),
                file: self.file.clone(),
            });
        }
        Ok((username, password))
    }

    /// A value that is present and has no `${…}` left unresolved.
    fn field<'a>(
        &self,
        value: &'a Option<String>,
        field: &'static str,
    ) -> Result<&'a str, SettingsError> {
        let value = value
            .as_deref()
            .ok_or_else(|| SettingsError::MissingField {
                id: self.id.clone(),
                file: self.file.clone(),
                field,
            })?;
        if let Some(start) = value.find("${") {
            let end = value[start..]
                .find('}')
                .map_or(value.len(), |e| start + e + 1);
            return Err(SettingsError::Unresolved {
                id: self.id.clone(),
                file: self.file.clone(),
                expression: value[start..end].to_string(),
            });
        }
        Ok(value)
    }
}

/// plexus-cipher's test: a `{…}` with at least one character inside whose closing brace is not
/// escaped as `\}` (text around it is allowed, e.g. a note before the cipher text).
pub fn is_encrypted(password: &str) -> bool {
    let bytes = password.as_bytes();
    bytes.iter().enumerate().any(|(open, &b)| {
        b == b'{'
            && (open + 2..bytes.len())
                .any(|close| bytes[close] == b'}' && bytes[close - 1] != b'\\')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(expression: &str) -> Option<String> {
        match expression {
            "env.NEXUS_PASSWORD" => Some("s3cr&t".into()),
            "env.CI_USER" => Some("ci".into()),
            "user.home" => Some("/home/ci".into()),
            _ => None,
        }
    }

    fn read_ok(text: &str) -> Settings {
        read(text, Path::new("/home/ci/.m2/settings.xml"), &env).unwrap()
    }

    #[test]
    fn reads_proxies_with_defaults_and_merges_by_id() {
        let user = read_ok(
            "<settings><proxies><proxy><id>corp</id><host>proxy.corp.example</host>\
             <username>${env.CI_USER}</username><password>${env.NEXUS_PASSWORD}</password>\
             <nonProxyHosts>*.corp.example|localhost</nonProxyHosts></proxy>\
             <proxy><id>off</id><active>false</active><protocol>https</protocol><host>x</host><port>1</port></proxy>\
             </proxies></settings>",
        );
        let global = read_ok(
            "<settings><proxies><proxy><id>corp</id><host>global</host></proxy>\
             <proxy><id>g</id><host>g.example</host><port>3128</port></proxy></proxies></settings>",
        );
        let merged = merge(user, global);
        let ids: Vec<&str> = merged.proxies.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["corp", "off", "g"]);
        let corp = &merged.proxies[0];
        assert!(corp.active);
        assert_eq!(
            (corp.protocol.as_str(), corp.host.as_str(), corp.port),
            ("http", "proxy.corp.example", None)
        );
        assert_eq!(corp.username.as_deref(), Some("ci"));
        assert_eq!(corp.password.as_deref(), Some("s3cr&t"));
        assert_eq!(corp.non_proxy_hosts, "*.corp.example|localhost");
        assert!(!merged.proxies[1].active);
    }

    /// The shape of a corporate ~/.m2/settings.xml (Nexus mirror, CI credentials from the
    /// environment, an encrypted password for another server), with comments, CDATA and entities.
    const USER_SETTINGS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<settings xmlns="http://maven.apache.org/SETTINGS/1.2.0"
          xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
          xsi:schemaLocation="http://maven.apache.org/SETTINGS/1.2.0 https://maven.apache.org/xsd/settings-1.2.0.xsd">
  <localRepository>${user.home}/.m2/corp-repository</localRepository>
  <offline>false</offline>
  <!-- <servers><server><id>commented-out</id></server></servers> -->
  <servers>
    <server>
      <id>corp-internal</id>
      <username>${env.CI_USER}</username>
      <password>${env.NEXUS_PASSWORD}</password>
    </server>
    <server>
      <id>legacy</id>
      <username>deploy</username>
      <password>{COQLCE6DU6GtcS5P=}</password>
    </server>
    <server>
      <id>unset</id>
      <username>u</username>
      <password>${env.NOT_SET}</password>
    </server>
    <server>
      <id>literal</id>
      <username> plain </username>
      <password><![CDATA[p<a>ss]]>&amp;word</password>
    </server>
  </servers>
  <mirrors>
    <mirror>
      <id>corp-nexus</id>
      <name>Nexus</name>
      <mirrorOf>external:*,!corp-internal</mirrorOf>
      <url>https://nexus.corp.example/repository/maven-public/</url>
    </mirror>
  </mirrors>
  <profiles>
    <profile><id>p</id><repositories><repository><id>r</id><url>http://x</url></repository></repositories></profile>
  </profiles>
</settings>
"#;

    #[test]
    fn reads_servers_mirrors_and_local_repository() {
        let s = read_ok(USER_SETTINGS);
        assert_eq!(
            s.local_repository.as_deref(),
            Some("/home/ci/.m2/corp-repository")
        );
        assert!(!s.offline);
        let ids: Vec<&str> = s.servers.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["corp-internal", "legacy", "unset", "literal"]);
        assert_eq!(
            s.server("corp-internal").unwrap().credentials().unwrap(),
            ("ci", "s3cr&t")
        );
        assert_eq!(
            s.server("literal").unwrap().credentials().unwrap(),
            ("plain", "p<a>ss&word")
        );
        assert_eq!(
            s.mirrors,
            [Mirror {
                id: "corp-nexus".into(),
                url: "https://nexus.corp.example/repository/maven-public/".into(),
                mirror_of: "external:*,!corp-internal".into(),
            }]
        );
    }

    #[test]
    fn unusable_credentials_say_why() {
        let s = read_ok(USER_SETTINGS);
        let err = s.server("legacy").unwrap().credentials().unwrap_err();
        assert!(matches!(err, SettingsError::EncryptedPassword { .. }));
        let shown = err.to_string();
        assert!(
            shown.contains("`legacy`") && shown.contains("/home/ci/.m2/settings.xml"),
            "{shown}"
        );
        assert!(shown.contains("${env.NAME}"), "{shown}");

        let err = s.server("unset").unwrap().credentials().unwrap_err();
        assert_eq!(
            err.to_string(),
            "server `unset` in /home/ci/.m2/settings.xml: `${env.NOT_SET}` is not set"
        );

        let s = read_ok("<settings><servers><server><id>x</id><password>p</password></server></servers></settings>");
        let err = s.server("x").unwrap().credentials().unwrap_err();
        assert!(err.to_string().ends_with("has no <username>"), "{err}");
    }

    #[test]
    fn encrypted_password_detection_follows_plexus_cipher() {
        assert!(is_encrypted("{COQLCE6DU6GtcS5P=}"));
        assert!(is_encrypted(
            "Oleg reset this password on 2009-03-11 {COQLCE6DU6GtcS5P=}"
        ));
        assert!(!is_encrypted("plain"));
        assert!(!is_encrypted("{}"));
        assert!(!is_encrypted("{abc\\}"));
        assert!(!is_encrypted("a}b{"));
    }

    #[test]
    fn interpolation_leaves_unknown_expressions() {
        assert_eq!(interpolate("${user.home}/r", &env), "/home/ci/r");
        assert_eq!(
            interpolate("a${env.NOPE}b${env.CI_USER}", &env),
            "a${env.NOPE}bci"
        );
        assert_eq!(interpolate("${unterminated", &env), "${unterminated");
        assert_eq!(interpolate("no expressions", &env), "no expressions");
    }

    #[test]
    fn defaults_and_malformed_files() {
        let s = read_ok("<settings/>");
        assert_eq!(s, Settings::default());
        let s = read_ok("<settings><offline> TRUE </offline><localRepository/></settings>");
        assert!(s.offline);
        assert_eq!(s.local_repository, None);
        assert!(!read_ok("<settings><offline>yes</offline></settings>").offline);

        let file = Path::new("/etc/maven/settings.xml");
        for (text, what) in [
            ("<project/>", "root element is <project>"),
            ("<settings>\n<servers>\n</settings>", "line 3"),
        ] {
            let err = read(text, file, &env).unwrap_err().to_string();
            assert!(err.starts_with("/etc/maven/settings.xml: "), "{err}");
            assert!(err.contains(what), "{err}");
        }
    }

    #[test]
    fn maven_distribution_settings() {
        // Maven 3.8.7's conf/settings.xml: its <server>s and <localRepository> are examples in
        // comments; the one live entry is the mirror that blocks plain-http repositories.
        let text = include_str!("testdata/maven-3.8.7-global-settings.xml");
        assert!(text.contains("<id>deploymentRepo</id>") && text.contains("<localRepository>"));
        let s = read_ok(text);
        assert_eq!(
            (s.local_repository, s.offline, s.servers),
            (None, false, vec![])
        );
        assert_eq!(
            s.mirrors,
            [Mirror {
                id: "maven-default-http-blocker".into(),
                url: "http://0.0.0.0/".into(),
                mirror_of: "external:http:*".into(),
            }]
        );
    }

    #[test]
    fn user_settings_dominate_global() {
        let user = read_ok(USER_SETTINGS);
        let global = read(
            r#"<settings>
  <localRepository>/var/cache/maven</localRepository>
  <offline>true</offline>
  <servers><server><id>corp-internal</id><username>global</username></server>
           <server><id>global-only</id></server></servers>
  <mirrors><mirror><id>corp-nexus</id><url>http://global</url><mirrorOf>*</mirrorOf></mirror>
           <mirror><id>other</id><url>https://other</url><mirrorOf>central</mirrorOf></mirror></mirrors>
</settings>"#,
            Path::new("/usr/share/maven/conf/settings.xml"),
            &env,
        )
        .unwrap();
        let merged = merge(user.clone(), global.clone());
        assert_eq!(merged.local_repository, user.local_repository);
        assert!(!merged.offline);
        assert_eq!(
            merged.server("corp-internal").unwrap().username.as_deref(),
            Some("ci")
        );
        let global_only = merged.server("global-only").unwrap();
        assert_eq!(
            global_only.file,
            Path::new("/usr/share/maven/conf/settings.xml")
        );
        let mirrors: Vec<&str> = merged.mirrors.iter().map(|m| m.url.as_str()).collect();
        assert_eq!(
            mirrors,
            [
                "https://nexus.corp.example/repository/maven-public/",
                "https://other"
            ]
        );

        let merged = merge(Settings::default(), global);
        assert_eq!(merged.local_repository.as_deref(), Some("/var/cache/maven"));
        assert!(!merged.offline, "offline comes from user settings only");
    }

    #[test]
    fn rendered_settings_read_back() {
        let text = render(&GateSettings {
            gate_url: "http://127.0.0.1:40123/t0k3n/",
            offline: true,
            local_repository: "/tmp/lockgate-run/repo & co",
            credentials: Some(("lockgate", "t0k3n<>")),
            carried: &Carried::default(),
        });
        let s = read(&text, Path::new("generated"), &env).unwrap();
        assert!(s.offline);
        assert_eq!(
            s.local_repository.as_deref(),
            Some("/tmp/lockgate-run/repo & co")
        );
        assert_eq!(
            s.mirrors,
            [Mirror {
                id: GATE_MIRROR_ID.into(),
                url: "http://127.0.0.1:40123/t0k3n/".into(),
                mirror_of: "*".into(),
            }]
        );
        assert_eq!(
            s.server(GATE_MIRROR_ID).unwrap().credentials().unwrap(),
            ("lockgate", "t0k3n<>")
        );

        let text = render(&GateSettings {
            gate_url: "http://127.0.0.1:1/",
            offline: false,
            local_repository: "/r",
            credentials: None,
            carried: &Carried::default(),
        });
        let s = read(&text, Path::new("generated"), &env).unwrap();
        assert!(!s.offline && s.servers.is_empty());
    }

    #[test]
    fn carried_settings_keep_all_but_artifact_sources() {
        let global = r#"<settings>
  <localRepository>/var/cache/maven</localRepository>
  <interactiveMode>false</interactiveMode>
  <proxies><proxy><id>corp</id><host>proxy.corp.example</host><port>3128</port></proxy></proxies>
  <servers><server><id>corp-internal</id><username>global</username></server>
           <server><id>release-repo</id><username>deploy</username><password>pw</password></server>
           <server><id>lockgate-gate</id><username>x</username><password>stale</password></server></servers>
  <mirrors><mirror><id>blocker</id><url>http://0.0.0.0/</url><mirrorOf>external:http:*</mirrorOf></mirror></mirrors>
  <profiles><profile><id>repos</id><properties><from>global</from></properties></profile>
            <profile><id>global-only</id></profile></profiles>
  <activeProfiles><activeProfile>repos</activeProfile><activeProfile>global-only</activeProfile></activeProfiles>
</settings>"#;
        let user = USER_SETTINGS.replace(
            "<profiles>",
            "<activeProfiles><activeProfile>p</activeProfile><activeProfile>repos</activeProfile></activeProfiles>\n  <profiles>",
        );
        let carried = carry_over(
            Some((&user, Path::new("/home/ci/.m2/settings.xml"))),
            Some((global, Path::new("/etc/maven/settings.xml"))),
        )
        .unwrap();
        let text = render(&GateSettings {
            gate_url: "http://127.0.0.1:40123/",
            offline: false,
            local_repository: "/tmp/run/repo",
            credentials: Some(("lockgate", "tok")),
            carried: &carried,
        });
        // Maven reads exactly one of each list, so the render must hold one of each.
        for list in [
            "<servers>",
            "<mirrors>",
            "<profiles>",
            "<activeProfiles>",
            "<proxies>",
            "<localRepository>",
        ] {
            assert_eq!(text.matches(list).count(), 1, "{list} in\n{text}");
        }
        let s = read(&text, Path::new("generated"), &env).unwrap();
        assert_eq!(s.local_repository.as_deref(), Some("/tmp/run/repo"));
        assert_eq!(s.mirrors.len(), 1);
        assert_eq!(s.mirrors[0].mirror_of, "*");
        let ids: Vec<&str> = s.servers.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "lockgate-gate",
                "corp-internal",
                "legacy",
                "unset",
                "literal",
                "release-repo"
            ]
        );
        assert_eq!(
            s.server("lockgate-gate").unwrap().credentials().unwrap(),
            ("lockgate", "tok")
        );
        assert_eq!(
            s.server("corp-internal").unwrap().credentials().unwrap(),
            ("ci", "s3cr&t")
        );
        // The user's profile `p` with its repository, then the global-only one; `repos` from global.
        let root = xml::parse(&text).unwrap();
        let profiles: Vec<&str> = root
            .child("profiles")
            .unwrap()
            .children
            .iter()
            .filter_map(|p| p.child_text("id"))
            .collect();
        assert_eq!(profiles, ["p", "repos", "global-only"]);
        let active: Vec<&str> = root
            .child("activeProfiles")
            .unwrap()
            .children
            .iter()
            .map(|a| a.text.trim())
            .collect();
        assert_eq!(active, ["p", "repos", "global-only"]);
        assert_eq!(root.child_text("interactiveMode"), Some("false"));
        let proxy = root.child("proxies").unwrap().child("proxy").unwrap();
        assert_eq!(proxy.child_text("nonProxyHosts"), Some("127.0.0.1"));
        // Expressions stay for Maven to interpolate, as in the user's file.
        assert!(
            text.contains("<password>${env.NEXUS_PASSWORD}</password>"),
            "{text}"
        );

        let err = carry_over(Some(("<project/>", Path::new("/u.xml"))), None).unwrap_err();
        assert!(err.to_string().starts_with("/u.xml: "), "{err}");
    }
}
