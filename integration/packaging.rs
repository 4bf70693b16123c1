//! What users deploy, checked: the Kubernetes manifests validate against the Kubernetes
//! schemas (`kubernetes-validate` from PyPI, strict: unknown fields are errors) and hold the
//! properties the deployment promises (replicas, probes, non-root, read-only root,
//! grace period longer than the drain); the configs shipped for the cluster and for
//! docker-compose pass `sec0-gateway check` with the environment they get there; the
//! compose file's mounts exist and its Prometheus config passes `promtool check config`;
//! the Dockerfile runs as non-root with a health check that needs no curl.
//!
//! The compose file is read by a real compose client: `docker compose config` where the
//! plugin exists, otherwise Debian's `docker-compose` (1.29, which CI installs; the v2 plugin
//! is not in the registries here), and validated against the Compose Specification's JSON
//! schema (as vendored by `check-jsonschema` from PyPI). There is no Docker engine here, so
//! the image itself is not built; the Dockerfile is checked by these tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml_ng::Value;

use crate::common;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every document of a multi-document YAML file.
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| {
            serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect()
}

/// `sec0-gateway check -c <config>` with `env`; panics with its output unless it passes.
fn check_config(config: &Path, env: &[(String, String)]) -> String {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sec0-gateway"));
    c.current_dir(root()).arg("check").arg("-c").arg(config);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{}: {text}", config.display());
    text
}

/// A validator from the test venv (integration/run installs them).
fn venv_tool(name: &str) -> Option<PathBuf> {
    let exe = root().join(".venv/bin").join(name);
    if exe.exists() {
        return Some(exe);
    }
    common::peers::missing(
        "packaging",
        &format!(
            "{name} is not installed in .venv (integration/run installs it); checked structurally only"
        ),
    );
    None
}

fn k8s_dir() -> PathBuf {
    root().join("deploy/kubernetes")
}

/// The files the kustomization names (resources and generated config maps).
fn kustomization_files() -> (Vec<PathBuf>, Vec<PathBuf>) {
    let k = yaml(&k8s_dir().join("kustomization.yaml"));
    let resources: Vec<PathBuf> = k["resources"]
        .as_sequence()
        .expect("resources")
        .iter()
        .map(|r| k8s_dir().join(r.as_str().expect("resource path")))
        .collect();
    let generated: Vec<PathBuf> = k["configMapGenerator"]
        .as_sequence()
        .expect("configMapGenerator")
        .iter()
        .flat_map(|g| g["files"].as_sequence().cloned().unwrap_or_default())
        .map(|f| k8s_dir().join(f.as_str().expect("file")))
        .collect();
    (resources, generated)
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

#[test]
fn the_kubernetes_manifests_validate_and_keep_their_promises() {
    let (resources, generated) = kustomization_files();
    for f in resources.iter().chain(&generated) {
        assert!(
            f.exists(),
            "kustomization names {} which does not exist",
            f.display()
        );
    }
    let docs: Vec<Value> = resources.iter().flat_map(|f| documents(f)).collect();

    let cfg_path = k8s_dir().join("config/gateway.yaml");
    let cfg = yaml(&cfg_path);
    assert_deployment_promises(&docs, "sec0-gateway", &cfg);
    // Secrets are referenced, never written here.
    assert!(
        !docs.iter().any(|d| d["kind"] == "Secret"),
        "no Secret objects shipped"
    );
    // The ServiceMonitor scrapes a port the Service has.
    let svc = find(&docs, "Service", "sec0-gateway");
    let monitor = find(&docs, "ServiceMonitor", "sec0-gateway");
    let port = monitor["spec"]["endpoints"][0]["port"]
        .as_str()
        .expect("port");
    assert!(
        svc["spec"]["ports"]
            .as_sequence()
            .is_some_and(|p| p.iter().any(|p| p["name"] == port)),
        "service port {port}"
    );
    for kind in [
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
    ] {
        find(&docs, kind, "sec0-gateway");
    }
    find(&docs, "Deployment", "sec0-redis");
    // The config the pods mount works, with the rules the cluster gets.
    let rules = k8s_dir().join("rules");
    let out = check_config(
        &cfg_path,
        &[(
            "SEC0_GATEWAY__POLICY__RULES".into(),
            rules.display().to_string(),
        )],
    );
    assert!(out.contains("OK"), "{out}");

    let examples: Vec<PathBuf> = std::fs::read_dir(k8s_dir().join("examples"))
        .expect("examples")
        .map(|e| e.expect("entry").path())
        .collect();
    let files: Vec<PathBuf> = resources.iter().chain(&examples).cloned().collect();
    validate_manifests(&files);
}

/// The properties every shipped gateway Deployment promises, given the config it mounts.
fn assert_deployment_promises(docs: &[Value], name: &str, cfg: &Value) {
    let deploy = find(docs, "Deployment", name);
    let spec = &deploy["spec"];
    let replicas = spec["replicas"].as_u64().or_else(|| {
        docs.iter()
            .find(|d| d["kind"] == "HorizontalPodAutoscaler")
            .and_then(|h| h["spec"]["minReplicas"].as_u64())
    });
    assert!(replicas.is_some_and(|n| n >= 2), "2+ replicas");
    let pod = &spec["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert!(c["resources"]["requests"].is_mapping() && c["resources"]["limits"].is_mapping());
    assert!(c["lifecycle"]["preStop"].is_mapping(), "preStop");
    // The grace period outlasts the gateway's drain and the preStop pause.
    let drain = humantime::parse_duration(cfg["limits"]["drain_timeout"].as_str().unwrap_or("30s"))
        .expect("drain_timeout");
    let grace = pod["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("grace");
    assert!(
        grace > drain.as_secs() + 5,
        "grace {grace}s vs drain {drain:?} + preStop"
    );
}

/// Every session affinity key the config names (`sessions.affinity_key_env`) reaches the
/// pods from a Secret, and a Secret the chart makes holds a key long enough.
fn assert_session_keys_provided(docs: &[Value], cfg: &Value) {
    use base64::Engine;
    let env = &find(docs, "Deployment", "sec0-gateway")["spec"]["template"]["spec"]["containers"]
        [0]["env"];
    let mut named = 0;
    for (_, up) in cfg["upstreams"].as_mapping().expect("upstreams") {
        let Some(var) = up["sessions"]["affinity_key_env"].as_str() else {
            continue;
        };
        named += 1;
        let from = env
            .as_sequence()
            .and_then(|e| e.iter().find(|v| v["name"] == var))
            .map(|v| &v["valueFrom"]["secretKeyRef"])
            .unwrap_or_else(|| panic!("{var} is not given to the pods: {env:?}"));
        let (secret, key) = (
            from["name"].as_str().expect("secret name"),
            from["key"].as_str().expect("secret key"),
        );
        assert_ne!(from["optional"], true, "a missing key must stop the pod");
        if let Some(s) = docs
            .iter()
            .find(|d| d["kind"] == "Secret" && d["metadata"]["name"] == secret)
        {
            let b64 = s["data"][key].as_str().expect("the key in the Secret");
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("base64");
            assert!(raw.len() >= 32, "the generated key is too short");
        }
    }
    assert!(named > 0, "the chart's default upstream seals sessions");
}

/// `kubernetes-validate --strict` over `files`; only custom resources (Prometheus
/// Operator, Gateway API) may lack a schema.
fn validate_manifests(files: &[PathBuf]) {
    let Some(validate) = venv_tool("kubernetes-validate") else {
        return;
    };
    let out = Command::new(validate)
        .args(["--strict", "--quiet"])
        .args(files)
        .output()
        .expect("kubernetes-validate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    for line in text.lines().filter(|l| l.contains("Couldn't find schema")) {
        assert!(
            line.contains("ServiceMonitor") || line.contains("HTTPRoute"),
            "unvalidated: {line}"
        );
    }
}

/// The Helm binary (integration/run installs it into integration/node with `npm ci`).
fn helm() -> Option<PathBuf> {
    let exe = root().join("integration/node/node_modules/.bin/helm");
    if exe.exists() {
        return Some(exe);
    }
    common::peers::missing(
        "the Helm chart test",
        "helm is not installed in integration/node (integration/run installs it with npm ci)",
    );
    None
}

#[test]
fn the_helm_chart_lints_renders_valid_manifests_and_a_working_config() {
    let Some(helm) = helm() else { return };
    let chart = root().join("deploy/helm/sec0-gateway");
    let run = |args: &[&str]| {
        let out = Command::new(&helm).args(args).output().expect("helm");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "helm {args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let chart_arg = chart.to_str().expect("utf-8 path");
    run(&["lint", "--strict", chart_arg]);
    let dir = tempfile::tempdir().expect("dir");
    for (case, sets) in [
        ("defaults", ""),
        (
            "external-redis",
            "serviceMonitor.enabled=true,ingress.enabled=true,ingress.tlsSecretName=tls,redis.enabled=false,redis.url=redis://redis.example:6379/,autoscaling.enabled=false,existingSecret=sec0-secrets",
        ),
    ] {
        let mut args = vec!["template", "sec0-gateway", chart_arg, "--namespace", "sec0"];
        if !sets.is_empty() {
            args.extend(["--set", sets]);
        }
        let rendered = dir.path().join(format!("{case}.yaml"));
        std::fs::write(&rendered, run(&args)).expect("write");
        validate_manifests(std::slice::from_ref(&rendered));
        let docs = documents(&rendered);
        // The config the pods mount, and the rules, pass `check`.
        let cm = find(&docs, "ConfigMap", "sec0-gateway-config");
        let cfg_text = cm["data"]["gateway.yaml"].as_str().expect("gateway.yaml");
        let cfg: Value = serde_yaml_ng::from_str(cfg_text).expect("config yaml");
        assert_deployment_promises(&docs, "sec0-gateway", &cfg);
        let rules_dir = dir.path().join(format!("{case}-rules"));
        std::fs::create_dir_all(&rules_dir).expect("rules dir");
        for (name, text) in find(&docs, "ConfigMap", "sec0-gateway-rules")["data"]
            .as_mapping()
            .expect("rules data")
        {
            std::fs::write(
                rules_dir.join(name.as_str().expect("name")),
                text.as_str().expect("text"),
            )
            .expect("write rules");
        }
        let cfg_file = dir.path().join(format!("{case}-gateway.yaml"));
        std::fs::write(&cfg_file, cfg_text).expect("write config");
        let out = check_config(
            &cfg_file,
            &[(
                "SEC0_GATEWAY__POLICY__RULES".into(),
                rules_dir.display().to_string(),
            )],
        );
        assert!(out.contains("OK (1 upstreams, 1 routes)"), "{out}");
        assert_session_keys_provided(&docs, &cfg);
        let expected_redis = if case == "defaults" {
            "redis://sec0-gateway-redis:6379/"
        } else {
            "redis://redis.example:6379/"
        };
        assert_eq!(cfg["store"]["redis"]["url"], expected_redis, "{case}");
        assert_eq!(
            docs.iter().any(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == "sec0-gateway-redis"),
            case == "defaults",
            "{case}: Redis deployed only when enabled"
        );
    }
}

/// With `config.policy.source` the chart renders a bundle source: no rules directory in
/// the config, the cache directory on its own volume, egress to the bundle server; and the
/// config passes `check`.
#[test]
fn the_helm_chart_renders_a_signed_bundle_source() {
    let Some(helm) = helm() else { return };
    let chart = root().join("deploy/helm/sec0-gateway");
    let dir = tempfile::tempdir().expect("dir");
    let (_, public) = sec0_gateway::policy::bundle::keys::generate().expect("keygen");
    let values = dir.path().join("values.yaml");
    let indented: String = public.lines().map(|l| format!("        {l}\n")).collect();
    std::fs::write(
        &values,
        format!(
            "config:\n  policy:\n    source: https://policy.example.com/prod.tar.gz\n    poll_interval: 1m\n    trusted_keys:\n      - |\n{indented}"
        ),
    )
    .expect("values");
    let out = Command::new(&helm)
        .args(["template", "sec0-gateway"])
        .arg(&chart)
        .args(["--namespace", "sec0", "-f"])
        .arg(&values)
        .output()
        .expect("helm");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = dir.path().join("bundle.yaml");
    std::fs::write(&rendered, &out.stdout).expect("write");
    validate_manifests(std::slice::from_ref(&rendered));
    let docs = documents(&rendered);
    let cm = find(&docs, "ConfigMap", "sec0-gateway-config");
    let cfg_text = cm["data"]["gateway.yaml"].as_str().expect("gateway.yaml");
    let cfg: Value = serde_yaml_ng::from_str(cfg_text).expect("config yaml");
    assert!(cfg["policy"].get("rules").is_none(), "{cfg_text}");
    let cache = cfg["policy"]["cache_dir"].as_str().expect("cache_dir");
    let pod = &find(&docs, "Deployment", "sec0-gateway")["spec"]["template"]["spec"];
    let mounts = pod["containers"][0]["volumeMounts"]
        .as_sequence()
        .expect("mounts");
    assert!(
        mounts
            .iter()
            .any(|m| m["mountPath"] == cache && m["readOnly"] != true),
        "the cache directory is a writable volume: {mounts:?}"
    );
    let egress = find(&docs, "NetworkPolicy", "sec0-gateway")["spec"]["egress"]
        .as_sequence()
        .expect("egress");
    assert!(
        egress
            .iter()
            .any(|e| e["ports"][0]["port"] == 443 && e["to"][0].get("ipBlock").is_some()),
        "egress to the bundle server: {egress:?}"
    );
    let cfg_file = dir.path().join("gateway.yaml");
    std::fs::write(&cfg_file, cfg_text).expect("write config");
    let out = check_config(&cfg_file, &[]);
    assert!(
        out.contains("policy.source https://policy.example.com/prod.tar.gz"),
        "{out}"
    );
}

#[test]
fn the_compose_file_mounts_what_exists_and_configures_a_working_gateway() {
    let compose = yaml(&root().join("docker-compose.yml"));
    let services = compose["services"].as_mapping().expect("services");
    for name in ["gateway", "sample-tools", "redis", "prometheus", "grafana"] {
        let s = &compose["services"][name];
        assert!(
            s["image"].is_string() || s["build"].is_string(),
            "service {name}"
        );
    }
    for (name, s) in services {
        for v in s["volumes"].as_sequence().cloned().unwrap_or_default() {
            let spec = v.as_str().expect("short volume syntax");
            let source = spec.split(':').next().expect("source");
            assert!(
                root().join(source).exists(),
                "{name:?} mounts {source}, which does not exist"
            );
        }
    }
    // The gateway's config with the environment compose gives it.
    let env: Vec<(String, String)> = compose["services"]["gateway"]["environment"]
        .as_mapping()
        .expect("environment")
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().expect("key").to_string(),
                v.as_str().expect("value").to_string(),
            )
        })
        .collect();
    assert!(
        env.iter()
            .any(|(k, v)| k == "SEC0_GATEWAY__STORE__BACKEND" && v == "redis")
    );
    let out = check_config(&root().join("config/gateway.yaml"), &env);
    assert!(out.contains("OK"), "{out}");
    // Prometheus scrapes the gateway's admin port with the shipped rules.
    let prom = root().join("deploy/prometheus/prometheus.yml");
    let p = yaml(&prom);
    assert_eq!(
        p["scrape_configs"][0]["static_configs"][0]["targets"][0],
        "gateway:9090"
    );
    match Command::new("promtool")
        .args(["check", "config"])
        .arg(&prom)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => common::peers::missing(
            "promtool check config",
            "promtool is not installed (Debian package `prometheus`, which .ci/run installs)",
        ),
    }
    // The Compose Specification accepts it.
    if let Some(check) = venv_tool("check-jsonschema") {
        let out = Command::new(check)
            .args(["--builtin-schema", "vendor.compose-spec"])
            .arg(root().join("docker-compose.yml"))
            .output()
            .expect("check-jsonschema");
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A real compose client accepts it.
    compose_client_accepts(&root().join("docker-compose.yml"));
    // Grafana gets a Prometheus datasource and the dashboard directory.
    let ds = yaml(&root().join("deploy/grafana/provisioning/datasources/prometheus.yml"));
    assert_eq!(ds["datasources"][0]["type"], "prometheus");
    assert!(root().join("deploy/grafana/sec0-gateway.json").exists());
}

/// `docker compose config -q` (the v2 plugin) or `docker-compose config -q` (Debian's 1.29)
/// accepts `file`; and, so the check cannot pass vacuously, refuses it with an unknown key.
fn compose_client_accepts(file: &Path) {
    let plugin = Command::new("docker")
        .args(["compose", "version"])
        .output()
        .is_ok_and(|o| o.status.success());
    let client: &[&str] = if plugin {
        &["docker", "compose"]
    } else if Command::new("docker-compose")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        &["docker-compose"]
    } else {
        common::peers::missing(
            "`docker compose config`",
            "neither the compose plugin nor docker-compose is installed (Debian package `docker-compose`, which .ci/run installs); only the schema check ran",
        );
        return;
    };
    let config = |f: &Path| {
        Command::new(client[0])
            .args(&client[1..])
            .arg("-f")
            .arg(f)
            .args(["config", "-q"])
            .output()
            .unwrap_or_else(|e| panic!("{client:?}: {e}"))
    };
    let out = config(file);
    assert!(
        out.status.success(),
        "{client:?} config refused {}: {}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The same file with one unknown service key.
    let text = std::fs::read_to_string(file).expect("compose file");
    let broken = text.replacen(
        "\n    image: ",
        "\n    not_a_compose_key: 1\n    image: ",
        1,
    );
    assert_ne!(broken, text, "a service with an image");
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("docker-compose.yml");
    std::fs::write(&bad, broken).expect("write");
    let out = config(&bad);
    assert!(
        !out.status.success(),
        "{client:?} accepted an unknown key: the check would pass anything"
    );
}

#[test]
fn the_image_runs_as_non_root_with_a_health_check() {
    let text = std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile");
    assert!(
        text.matches("\nFROM ").count() + usize::from(text.starts_with("FROM ")) >= 2,
        "multi-stage"
    );
    let user = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("USER");
    assert!(
        user.split(':')
            .all(|id| id.parse::<u32>().is_ok_and(|n| n >= 1000)),
        "numeric non-root user, got {user}"
    );
    assert!(
        text.contains("HEALTHCHECK") && text.contains("\"sec0-gateway\", \"probe\""),
        "health check through `sec0-gateway probe`"
    );
    for copied in ["config", "rules"] {
        assert!(text.contains(&format!("COPY {copied} ")), "COPY {copied}");
        assert!(root().join(copied).is_dir());
    }
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).expect(".dockerignore");
    for excluded in ["target/", ".venv/", "node_modules"] {
        assert!(ignore.contains(excluded), ".dockerignore lacks {excluded}");
    }
}
