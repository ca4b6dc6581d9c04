#!/usr/bin/env bash
# Checks what deploy/ holds without a cluster or a Docker daemon: the
# Prometheus configs, the alert rules and their unit tests (including that
# every alert has a case where it fires and one where it must not), the
# dashboard's queries, and the Kubernetes manifests. Run from anywhere:
#   bash deploy/check.sh
# Needs python3 with PyYAML; installs promtool (Debian's prometheus package)
# when it is missing.
set -euo pipefail
cd "$(dirname "$0")"

command -v promtool >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
}
echo "== $(promtool --version 2>&1 | head -1)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== prometheus configs"
promtool check config prometheus/prometheus.yml
# Debian builds promtool without Kubernetes service discovery.
if out=$(promtool check config prometheus/prometheus-kubernetes.yml 2>&1); then
  echo "$out"
elif grep -q 'field kubernetes_sd_configs not found' <<<"$out"; then
  echo "prometheus-kubernetes.yml: skipped, this promtool has no Kubernetes service discovery"
else
  echo "$out"
  exit 1
fi

echo "== alert rules"
promtool check rules prometheus/alerts.yml
promtool test rules prometheus/alerts_test.yml

echo "== every alert has a firing and a not-firing case"
python3 - "$tmp" <<'PY'
import copy, subprocess, sys, yaml

tmp = sys.argv[1]
rules = yaml.safe_load(open("prometheus/alerts.yml"))
tests = yaml.safe_load(open("prometheus/alerts_test.yml"))
names = [r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r]
tested = {c["alertname"] for t in tests["tests"] for c in t.get("alert_rule_test", [])}
problems = [f"tests name unknown alert {n}" for n in sorted(tested - set(names))]

def run(name, expr, keep):
    """Run the tests of `name` that `keep` selects, with its expr replaced."""
    r = copy.deepcopy(rules)
    for g in r["groups"]:
        for rule in g["rules"]:
            if rule.get("alert") == name:
                rule["expr"], rule["for"] = expr, "0s"
    t = copy.deepcopy(tests)
    t["rule_files"] = ["alerts.yml"]
    for case in t["tests"]:
        case["alert_rule_test"] = [c for c in case.get("alert_rule_test", [])
                                   if c["alertname"] == name and keep(c)]
    t["tests"] = [c for c in t["tests"] if c["alert_rule_test"]]
    if not t["tests"]:
        return None
    yaml.safe_dump(r, open(f"{tmp}/alerts.yml", "w"))
    yaml.safe_dump(t, open(f"{tmp}/tests.yml", "w"))
    return subprocess.run(["promtool", "test", "rules", f"{tmp}/tests.yml"],
                          capture_output=True).returncode

for n in names:
    # An alert that never fires must fail the tests expecting it to fire...
    if not run(n, "vector(1) < 0", lambda c: c.get("exp_alerts")):
        problems.append(f"{n}: no test case where it fires")
    # ...and one that always fires must fail the tests expecting silence.
    if not run(n, "vector(1)", lambda c: not c.get("exp_alerts")):
        problems.append(f"{n}: no test case where it must not fire")
for p in problems:
    print("FAIL", p)
print(f"{len(names)} alerts, {len(problems)} problems")
sys.exit(1 if problems else 0)
PY

echo "== grafana dashboard queries"
python3 - "$tmp/dashboard_rules.yml" <<'PY'
import json, sys

rules = []
for path in ["grafana/dashboards/trackelio-webhooks.json"]:
    d = json.load(open(path))
    for p in d["panels"]:
        for t in p.get("targets", []):
            expr = t["expr"].replace("$__rate_interval", "1m").replace("$event_type", ".*")
            rules.append({"record": f"panel_{p['id']}_{t['refId']}", "expr": expr})
    for v in d["templating"]["list"]:
        if v["type"] == "query":
            metric = v["definition"].split("(", 1)[1].split(",")[0]
            rules.append({"record": f"variable_{v['name']}", "expr": metric})
# JSON is YAML, so promtool reads this as a rules file.
json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(sys.argv[1], "w"))
PY
promtool check rules "$tmp/dashboard_rules.yml"

echo "== kubernetes"
if command -v kubectl >/dev/null; then
  kubectl kustomize kubernetes >"$tmp/k8s.yaml"
  echo "kubernetes: $(grep -c '^kind:' "$tmp/k8s.yaml") objects"
  # The autoscaling component, through an overlay (kustomize wants relative paths).
  mkdir -p "$tmp/overlay"
  base=$(realpath --relative-to="$tmp/overlay" kubernetes)
  printf 'resources: [%s]\ncomponents: [%s/components/worker-autoscaling]\n' "$base" "$base" >"$tmp/overlay/kustomization.yaml"
  kubectl kustomize "$tmp/overlay" >"$tmp/k8s-hpa.yaml"
  grep -q '^kind: HorizontalPodAutoscaler' "$tmp/k8s-hpa.yaml"
  echo "kubernetes: worker-autoscaling component ok"
else
  echo "kubernetes: skipped, no kubectl"
fi
echo "deploy: all checks passed"
