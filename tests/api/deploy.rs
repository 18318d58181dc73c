//! The deployment files as a fresh clone has them (SPEC §7 "Production", README "Docker"):
//! what goes into an image and what compose asks for. `.ci/run` builds the image itself
//! whenever a Docker daemon is reachable; these hold the rules that do not need one.

fn read(path: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_build_context_leaves_out_build_output_local_data_and_secrets() {
    let ignore = read(".dockerignore");
    let lines: Vec<&str> = ignore.lines().map(str::trim).collect();
    for must in ["target/", "keydrop-data/", "secrets/", ".git/"] {
        assert!(lines.contains(&must), "{must} not in .dockerignore");
    }
}

#[test]
fn dependencies_build_in_a_layer_before_the_code_is_copied() {
    let dockerfile = read("Dockerfile");
    let deps = dockerfile
        .find("cargo build --release --locked")
        .expect("a dependency build");
    let code = dockerfile.find("COPY src ./src").expect("the code copied");
    assert!(
        deps < code,
        "the dependency layer must come before COPY src"
    );
    assert!(dockerfile.contains("COPY build.rs"));
    assert!(
        dockerfile.contains("USER keydrop"),
        "runs as a non-root user"
    );
}

#[test]
fn compose_requires_an_explicit_public_url() {
    let compose = read("docker-compose.yml");
    let line = compose
        .lines()
        .find(|l| l.trim_start().starts_with("KEYDROP_PUBLIC_URL:"))
        .expect("KEYDROP_PUBLIC_URL in compose");
    assert!(line.contains("${KEYDROP_PUBLIC_URL:?"), "{line}");
    assert!(!line.contains("localhost"), "{line}");
    // The Docker-only way to make the keyring is written down where it is used.
    assert!(compose.contains("keys init --keyring-file /out/keyring.json"));
}
