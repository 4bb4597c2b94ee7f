use super::*;

fn parse(text: &str) -> Mirrors {
    Mirrors::parse(text, "mirrors.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn err(text: &str) -> String {
    Mirrors::parse(text, "mirrors.toml")
        .expect_err("should be refused")
        .to_string()
}

fn repos(route: &RegistryRoute) -> Vec<(&str, Option<PullFrom>, bool)> {
    route
        .endpoints
        .iter()
        .map(|e| (e.repository.as_str(), e.mirror, e.insecure))
        .collect()
}

const FLEET: &str = r#"
unqualified-search-registries = ["docker.io"]
short-name-mode = "enforcing"

[[registry]]
prefix = "ghcr.io"
location = "ghcr.io"

[[registry.mirror]]
location = "cache.corp:5000/ghcr"
insecure = true

[[registry.mirror]]
location = "harbor.corp/ghcr-proxy"
pull-from-mirror = "digest-only"

[[registry]]
prefix = "ghcr.io/team/private"
blocked = true

[[registry]]
location = "quay.io"
mirror-by-digest-only = true

[[registry.mirror]]
location = "quay-cache.corp"

[[registry]]
prefix = "*.internal.corp"

[[registry.mirror]]
location = "edge.corp/internal"

[[url]]
prefix = "https://github.com/"

[[url.mirror]]
location = "http://git-cache.corp/github/"

[[url]]
prefix = "https://github.com/vendoras/"
mirror-only = true

[[url.mirror]]
location = "https://a.corp/v/"

[[url.mirror]]
location = "https://b.corp/v/"
"#;

#[test]
fn registry_routes_follow_registries_conf() {
    let m = parse(FLEET);
    let r = m.registry_route("ghcr.io/org/app");
    assert_eq!(r.blocked, None);
    assert_eq!(
        repos(&r),
        [
            ("cache.corp:5000/ghcr/org/app", Some(PullFrom::All), true),
            (
                "harbor.corp/ghcr-proxy/org/app",
                Some(PullFrom::DigestOnly),
                false
            ),
            ("ghcr.io/org/app", None, false),
        ]
    );
    // The longest prefix wins, at a path boundary only.
    let r = m.registry_route("ghcr.io/team/private/x");
    assert_eq!(r.blocked.as_deref(), Some("ghcr.io/team/private"));
    assert_eq!(repos(&r), [("ghcr.io/team/private/x", None, false)]);
    let r = m.registry_route("ghcr.io/team/privateer");
    assert_eq!(r.blocked, None);
    assert_eq!(r.endpoints.len(), 3);
    // A registry-wide mirror-by-digest-only makes every mirror digest-only.
    let r = m.registry_route("quay.io/a/b");
    assert_eq!(
        repos(&r),
        [
            ("quay-cache.corp/a/b", Some(PullFrom::DigestOnly), false),
            ("quay.io/a/b", None, false)
        ]
    );
    // Wildcards match subdomains (not the bare domain) and keep the host.
    let r = m.registry_route("reg.eu.internal.corp:443/lib/x");
    assert_eq!(
        repos(&r),
        [
            ("edge.corp/internal/lib/x", Some(PullFrom::All), false),
            ("reg.eu.internal.corp:443/lib/x", None, false)
        ]
    );
    assert_eq!(
        repos(&m.registry_route("internal.corp/x")),
        [("internal.corp/x", None, false)]
    );
    // No rule: the origin only.
    assert_eq!(
        repos(&m.registry_route("docker.io/library/alpine")),
        [("docker.io/library/alpine", None, false)]
    );
}

#[test]
fn lookups_pick_mirrors_by_pull_from_mirror() {
    let m = parse(FLEET);
    let r = m.registry_route("ghcr.io/org/app");
    let by = |k: Lookup| -> Vec<&str> {
        r.endpoints
            .iter()
            .filter(|e| e.serves(k))
            .map(|e| e.repository.as_str())
            .collect()
    };
    assert_eq!(
        by(Lookup::Tag),
        ["cache.corp:5000/ghcr/org/app", "ghcr.io/org/app"]
    );
    assert_eq!(by(Lookup::Digest).len(), 3);
    assert!(PullFrom::TagOnly.allows(Lookup::Tag));
    assert!(!PullFrom::TagOnly.allows(Lookup::Digest));
}

#[test]
fn mirror_only_and_location_rewrite() {
    let m = parse(
        "[[registry]]\nprefix = \"reg.io/old\"\nlocation = \"reg.io/new\"\nmirror-only = true\n\
         [[registry.mirror]]\nlocation = \"cache:5000\"\n",
    );
    assert_eq!(
        repos(&m.registry_route("reg.io/old/a")),
        [("cache:5000/a", Some(PullFrom::All), false)]
    );
    let m = parse("[[registry]]\nprefix = \"reg.io/old\"\nlocation = \"reg.io/new\"\n");
    assert_eq!(
        repos(&m.registry_route("reg.io/old")),
        [("reg.io/new", None, false)]
    );
}

#[test]
fn url_candidates_are_mirrors_then_origin() {
    let m = parse(FLEET);
    let urls =
        |u: &str| -> Vec<String> { m.url_candidates(u).into_iter().map(|c| c.url).collect() };
    assert_eq!(
        urls("https://github.com/org/repo.git"),
        [
            "http://git-cache.corp/github/org/repo.git",
            "https://github.com/org/repo.git"
        ]
    );
    // Longest prefix; mirror-only drops the origin.
    assert_eq!(
        urls("https://github.com/vendoras/x.tgz"),
        ["https://a.corp/v/x.tgz", "https://b.corp/v/x.tgz"]
    );
    let c = m.url_candidates("https://github.com/vendoras/x.tgz");
    assert_eq!(
        c[0].rewrite,
        Some((
            "https://github.com/vendoras/".to_string(),
            "https://a.corp/v/".to_string()
        ))
    );
    assert_eq!(urls("https://example.org/f"), ["https://example.org/f"]);
    assert!(Mirrors::default().is_empty());
}

#[test]
fn errors_are_positioned() {
    let e = err("[[registry]]\nprefix = \"a.io\"\n[[registry.mirror]]\nlocation = \"b.io\"\npull-from-mirror = \"sometimes\"\n");
    assert!(e.starts_with("mirrors.toml:5:"), "{e}");
    assert!(e.contains("sometimes"), "{e}");
    let e = err("[[registry]]\nprefix = \"a.io\"\nmirrors = []\n");
    assert!(e.starts_with("mirrors.toml:3:1"), "{e}");
    assert!(e.contains("mirrors"), "{e}");
    let e = err("[[registry]]\nprefix = \"https://a.io\"\n");
    assert!(e.starts_with("mirrors.toml:2:10"), "{e}");
    assert!(e.contains("scheme"), "{e}");
    let e = err("[[registry]]\nprefix = \"a.io/x:v1\"\n");
    assert!(e.contains("tag or digest"), "{e}");
    let e = err("[[registry]]\nprefix = \"*.a.io\"\nlocation = \"b.io\"\n");
    assert!(e.starts_with("mirrors.toml:3:12"), "{e}");
    let e = err("[[registry]]\nprefix = \"a.io\"\nmirror-only = true\n");
    assert!(e.contains("at least one"), "{e}");
    let e = err("[[registry]]\nlocation = \"a.io\"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = \"b.io\"\npull-from-mirror = \"tag-only\"\n");
    assert!(e.starts_with("mirrors.toml:6:"), "{e}");
    let e = err("[registries.search]\nregistries = [\"docker.io\"]\n");
    assert!(e.contains("v1"), "{e}");
    let e = err("[[url]]\nprefix = \"https://x/\"\n");
    assert!(e.contains("no [[url.mirror]]"), "{e}");
    let e = err("[[registry]]\nprefix = \"a.io\"\n[[registry]]\nprefix = \"a.io\"\n");
    assert!(e.starts_with("mirrors.toml:4:10"), "{e}");
    let e = err("[[registry\n");
    assert!(e.starts_with("mirrors.toml:1:"), "{e}");
}

#[test]
fn origins_compare_scheme_host_and_port() {
    assert_eq!(
        url_origin("https://u:p@Git.Corp:8443/a?x"),
        "https://git.corp:8443"
    );
    assert_ne!(url_origin("http://h/a"), url_origin("https://h/a"));
}
