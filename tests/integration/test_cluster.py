"""The test cluster itself (tests/cluster): the real kube-apiserver and kube-controller-manager
with the test-only pod runner. Image "busybox-test" (host executables) is allowed only here,
through FEATHERMAN_PODRUNNER_ALLOW_HOST_IMAGES=1 that the fixture sets."""
import base64
import json
import os
import re
import time

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
import sys  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
from fixture import kube_cluster  # noqa: E402,F401

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def pinned(module, gomod):
    with open(os.path.join(ROOT, "tests", "cluster", "build", gomod, "go.mod")) as f:
        m = re.search(rf"^\s*(?:require\s+)?{re.escape(module)} (v\S+)", f.read(), re.M)
    return m.group(1)


def shell_pod(name, script, **extra):
    spec = {"restartPolicy": "Never", "terminationGracePeriodSeconds": 10,
            "containers": [{"name": "main", "image": "busybox-test", "command": ["/bin/sh", "-c", script]}]}
    for k, v in extra.items():
        if k in ("env", "volumeMounts", "readinessProbe", "ports", "terminationMessagePolicy", "terminationMessagePath"):
            spec["containers"][0][k] = v
        else:
            spec[k] = v
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}}, "spec": spec}


def phase(kc, ns, name):
    return kc.core.read_namespaced_pod(name, ns).status.phase


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def gone(kc, ns, name):
    try:
        kc.core.read_namespaced_pod(name, ns)
        return False
    except kc.kubernetes.client.ApiException as e:
        return e.status == 404


def test_versions_are_the_pinned_ones(kube_cluster):
    k8s = pinned("k8s.io/kubernetes", "k8s")
    v = json.loads(kube_cluster.kubectl("version", "-o", "json"))
    assert v["clientVersion"]["gitVersion"] == k8s
    assert v["serverVersion"]["gitVersion"] == k8s
    assert v["serverVersion"]["minor"] == k8s.split(".")[1]
    etcd = pinned("go.etcd.io/etcd/server/v3", "etcd")
    r = requests.get(kube_cluster.info["etcd"] + "/version", timeout=5).json()
    assert "v" + r["etcdserver"] == etcd
    node = kube_cluster.core.read_node(kube_cluster.node)
    assert node.status.node_info.kubelet_version == k8s


def test_node_lease_is_renewed(kube_cluster):
    coord = kube_cluster.kubernetes.client.CoordinationV1Api(kube_cluster.client)
    first = coord.read_namespaced_lease(kube_cluster.node, "kube-node-lease").spec.renew_time
    kube_cluster.wait(lambda: coord.read_namespaced_lease(kube_cluster.node, "kube-node-lease").spec.renew_time > first,
                      25, "a lease renewal")


def test_job_running_featherman_completes(kube_cluster):
    kc = kube_cluster
    ns = kc.namespace("job")
    kc.batch.create_namespaced_job(ns, {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "version"},
                                        "spec": {"backoffLimit": 0, "template": {"spec": {
                                            "restartPolicy": "Never",
                                            "containers": [{"name": "fm", "image": "ghcr.io/example/featherman:dev",
                                                            "args": ["--version"]}]}}}})
    assert kc.wait(lambda: kc.job_condition(ns, "version"), 90, "the Job to finish") == "Complete"
    pods = kc.pods_of_job(ns, "version")
    assert len(pods) == 1
    pod = pods[0]
    assert pod.status.phase == "Succeeded"
    term = pod.status.container_statuses[0].state.terminated
    assert term.exit_code == 0 and term.reason == "Completed"
    assert "featherman" in kc.pod_log(ns, pod.metadata.name, "fm")
    pid = kc.pod_pid(ns, pod.metadata.name, "fm")
    assert pid and not pid_alive(pid)


def test_job_with_unknown_image_fails_clearly(kube_cluster):
    kc = kube_cluster
    ns = kc.namespace("badimg")
    kc.batch.create_namespaced_job(ns, {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "nginx"},
                                        "spec": {"backoffLimit": 0, "template": {"spec": {
                                            "restartPolicy": "Never",
                                            "containers": [{"name": "web", "image": "nginx:1.27"}]}}}})
    assert kc.wait(lambda: kc.job_condition(ns, "nginx"), 90, "the Job to fail") == "Failed"
    pod = kc.pods_of_job(ns, "nginx")[0]
    assert pod.status.phase == "Failed"
    assert pod.status.reason == "ErrImagePull"
    waiting = pod.status.container_statuses[0].state.waiting
    assert waiting.reason == "ErrImagePull"
    assert "nginx:1.27" in waiting.message and "featherman" in waiting.message


def test_env_secret_configmap_and_service_account(kube_cluster):
    kc = kube_cluster
    ns = kc.namespace("env")
    kc.core.create_namespaced_secret(ns, {"metadata": {"name": "creds"},
                                          "data": {"password": base64.b64encode(b"s3cr3t-value").decode()}})
    kc.core.create_namespaced_config_map(ns, {"metadata": {"name": "conf"},
                                              "data": {"mode": "fast", "config.yaml": "catalog: lake\n"}})
    script = ('echo "PW=$PASSWORD MODE=$MODE NAME=$MY_NAME NS=$MY_NS IP=$MY_IP OPT=[$OPT] EXP=$EXPANDED";'
              'echo "CFG=$(cat $FEATHERMAN_ROOT/etc/fm/config.yaml)";'
              'echo "ONLY=$(ls $FEATHERMAN_ROOT/etc/one)";'
              'SA=$FEATHERMAN_ROOT/var/run/secrets/kubernetes.io/serviceaccount;'
              'echo "SANS=$(cat $SA/namespace) CA=$(head -c 27 $SA/ca.crt) TOKLEN=$(wc -c < $SA/token)";'
              'echo "API=$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT SADIR=$FEATHERMAN_SA_DIR"')
    pod = shell_pod("env", script, env=[
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
        {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "conf", "key": "mode"}}},
        {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "x", "optional": True}}},
        {"name": "MY_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "MY_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "EXPANDED", "value": "mode-$(MODE)"}],
        volumeMounts=[{"name": "cfg", "mountPath": "/etc/fm"}, {"name": "one", "mountPath": "/etc/one"}],
        volumes=[{"name": "cfg", "configMap": {"name": "conf"}},
                 {"name": "one", "secret": {"secretName": "creds", "items": [{"key": "password", "path": "pw.txt"}]}}])
    kc.core.create_namespaced_pod(ns, pod)
    kc.wait(lambda: phase(kc, ns, "env") == "Succeeded", 60, "the pod to succeed")
    p = kc.core.read_namespaced_pod("env", ns)
    out = kc.pod_log(ns, "env", "main")
    assert re.match(r"127\.\d+\.0\.\d+$", p.status.pod_ip) and p.status.pod_ip.startswith(kube_cluster.ip_prefix)
    assert f"PW=s3cr3t-value MODE=fast NAME=env NS={ns} IP={p.status.pod_ip} OPT=[] EXP=mode-fast" in out
    assert "CFG=catalog: lake" in out
    assert "ONLY=pw.txt" in out
    assert f"SANS={ns} CA=-----BEGIN CERTIFICATE----- TOKLEN=" in out
    sa_dir = os.path.join(kc.pod_root(ns, "env"), "var/run/secrets/kubernetes.io/serviceaccount")
    assert f"API=127.0.0.1:{kc.api_port} SADIR={sa_dir}" in out
    # the projected token is a real, bound service-account token
    tok = open(os.path.join(kc.pod_root(ns, "env"), "var/run/secrets/kubernetes.io/serviceaccount/token")).read()
    r = requests.post(kc.server + "/apis/authentication.k8s.io/v1/selfsubjectreviews", verify=kc.info["ca"],
                      headers={"Authorization": f"Bearer {tok}"},
                      json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}, timeout=10)
    assert r.status_code == 201, r.text
    assert r.json()["status"]["userInfo"]["username"] == f"system:serviceaccount:{ns}:default"


def test_missing_secret_waits_with_reason(kube_cluster):
    kc = kube_cluster
    ns = kc.namespace("nosec")
    kc.core.create_namespaced_pod(ns, shell_pod("p", "echo $X", env=[
        {"name": "X", "valueFrom": {"secretKeyRef": {"name": "later", "key": "k"}}}]))

    def waiting_reason():
        cs = kc.core.read_namespaced_pod("p", ns).status.container_statuses
        return cs and cs[0].state.waiting and cs[0].state.waiting.reason
    assert kc.wait(waiting_reason, 30, "a waiting reason") == "CreateContainerConfigError"
    kc.core.create_namespaced_secret(ns, {"metadata": {"name": "later"},
                                          "data": {"k": base64.b64encode(b"now-here").decode()}})
    kc.wait(lambda: phase(kc, ns, "p") == "Succeeded", 30, "the pod to run once the secret exists")
    assert "now-here" in kc.pod_log(ns, "p", "main")


def test_termination_message(kube_cluster):
    kc = kube_cluster
    ns = kc.namespace("term")
    kc.core.create_namespaced_pod(ns, shell_pod(
        "file", 'echo \'{"rows": 3}\' > $FEATHERMAN_ROOT/dev/termination-log; exit 3'))
    kc.core.create_namespaced_pod(ns, shell_pod(
        "fallback", "echo first; echo 'the last words' >&2; exit 4", terminationMessagePolicy="FallbackToLogsOnError"))
    for name in ("file", "fallback"):
        kc.wait(lambda: phase(kc, ns, name) == "Failed", 30, f"pod {name} to fail")
    t = kc.core.read_namespaced_pod("file", ns).status.container_statuses[0].state.terminated
    assert (t.exit_code, t.reason, t.message.strip()) == (3, "Error", '{"rows": 3}')
    t = kc.core.read_namespaced_pod("fallback", ns).status.container_statuses[0].state.terminated
    assert t.exit_code == 4 and "the last words" in t.message


def test_restart_on_failure(kube_cluster):
    kc = kube_cluster
    ns = kc.namespace("restart")
    # fails twice, then succeeds: the counter lives on an emptyDir, which survives restarts
    script = ('f=$FEATHERMAN_ROOT/data/n; n=$(cat $f 2>/dev/null || echo 0); n=$((n+1)); echo $n > $f; '
              '[ $n -ge 3 ]')
    kc.core.create_namespaced_pod(ns, shell_pod("p", script, restartPolicy="OnFailure",
                                                volumeMounts=[{"name": "d", "mountPath": "/data"}],
                                                volumes=[{"name": "d", "emptyDir": {}}]))
    kc.wait(lambda: phase(kc, ns, "p") == "Succeeded", 60, "the pod to succeed after restarts")
    cs = kc.core.read_namespaced_pod("p", ns).status.container_statuses[0]
    assert cs.restart_count == 2
    assert cs.last_state.terminated.exit_code == 1


def test_deleting_a_job_collects_its_pods(kube_cluster):
    kc = kube_cluster
    ns = kc.namespace("gc")
    kc.batch.create_namespaced_job(ns, {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "sleepers"},
                                        "spec": {"parallelism": 2, "completions": 2, "template": {"spec": {
                                            "restartPolicy": "Never", "terminationGracePeriodSeconds": 5,
                                            "containers": [{"name": "s", "image": "busybox-test",
                                                            "command": ["sleep", "300"]}]}}}})
    kc.wait(lambda: len([p for p in kc.pods_of_job(ns, "sleepers") if p.status.phase == "Running"]) == 2, 60,
            "two running pods")
    pods = kc.pods_of_job(ns, "sleepers")
    pids = [kc.pod_pid(ns, p.metadata.name, "s") for p in pods]
    assert all(pid and pid_alive(pid) for pid in pids)
    assert pods[0].metadata.owner_references[0].kind == "Job"
    kc.batch.delete_namespaced_job("sleepers", ns, propagation_policy="Background")
    kc.wait(lambda: not kc.pods_of_job(ns, "sleepers"), 60, "the garbage collector to delete the pods")
    assert not any(pid_alive(pid) for pid in pids)


def test_pvc_binds_to_a_precreated_pv(kube_cluster):
    kc = kube_cluster
    ns = kc.namespace("pvc")
    kc.core.create_namespaced_persistent_volume_claim(ns, {"metadata": {"name": "data"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    kc.core.create_namespaced_persistent_volume_claim(ns, {"metadata": {"name": "std"}, "spec": {
        "storageClassName": "standard", "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}})
    for claim in ("data", "std"):
        kc.wait(lambda: kc.core.read_namespaced_persistent_volume_claim(claim, ns).status.phase == "Bound", 60,
                f"PVC {claim} to bind")
    pvc = kc.core.read_namespaced_persistent_volume_claim("data", ns)
    assert pvc.spec.storage_class_name == "standard"
    pv = kc.core.read_persistent_volume(pvc.spec.volume_name)
    kc.core.create_namespaced_pod(ns, shell_pod("writer", "echo hello > $FEATHERMAN_ROOT/var/lib/lake/f.txt",
                                                volumeMounts=[{"name": "d", "mountPath": "/var/lib/lake"}],
                                                volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]))
    kc.wait(lambda: phase(kc, ns, "writer") == "Succeeded", 60, "the writer pod")
    with open(os.path.join(pv.spec.host_path.path, "f.txt")) as f:
        assert f.read() == "hello\n"


def test_readiness_probe_makes_the_pod_ready(kube_cluster):
    kc = kube_cluster
    ns = kc.namespace("ready")
    # the probe's path exists only after 2 s: first running and not ready, then ready
    script = ('mkdir -p $FEATHERMAN_ROOT/www; cd $FEATHERMAN_ROOT/www; (sleep 2; echo ok > ready) & '
              'exec python3 -m http.server 8080 --bind $POD_IP')
    pod = shell_pod("web", script, restartPolicy="Always", ports=[{"name": "http", "containerPort": 8080}],
                    readinessProbe={"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 1})
    kc.core.create_namespaced_pod(ns, pod)
    kc.wait(lambda: phase(kc, ns, "web") == "Running", 30, "the pod to run")
    p = kc.core.read_namespaced_pod("web", ns)
    assert not p.status.container_statuses[0].ready

    def ready():
        p = kc.core.read_namespaced_pod("web", ns)
        return any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or []) and p
    p = kc.wait(ready, 30, "the pod to become Ready")
    assert p.status.container_statuses[0].ready
    ip = p.status.pod_ip
    with requests.Session() as s:
        s.trust_env = False
        assert s.get(f"http://{ip}:8080/ready", timeout=5).text == "ok\n"


def test_endpoint_slices_refuse_loopback_pod_ips(kube_cluster):
    """A documented limit (tests/cluster/README.md): the API server refuses 127.0.0.0/8 in
    EndpointSlices, so Services get no endpoints for our Pods. Should that change (Pod addresses in
    a network namespace), this test fails and the README's advice can go."""
    kc = kube_cluster
    ns = kc.namespace("slice")
    kc.core.create_namespaced_pod(ns, shell_pod("p", "exec sleep 300", restartPolicy="Always",
                                                ports=[{"name": "http", "containerPort": 8080}]))
    kc.core.create_namespaced_service(ns, {"metadata": {"name": "svc"}, "spec": {
        "selector": {"app": "p"}, "ports": [{"port": 80, "targetPort": "http"}]}})
    kc.wait(lambda: phase(kc, ns, "p") == "Running", 30, "the pod to run")

    def refused():
        ev = kc.core.list_namespaced_event(ns, field_selector="reason=FailedToUpdateEndpointSlices").items
        return [e.message for e in ev if "may not be in the loopback range" in e.message]
    assert kc.wait(refused, 30, "the EndpointSlice controller's refusal")
    kc.core.delete_namespaced_pod("p", ns, grace_period_seconds=0)


def test_delete_sends_sigterm_then_removes_the_pod(kube_cluster):
    kc = kube_cluster
    ns = kc.namespace("sigterm")
    script = ('trap "echo got-sigterm > $FEATHERMAN_ROOT/term; exit 0" TERM; echo started; '
              'while true; do sleep 0.1; done')
    kc.core.create_namespaced_pod(ns, shell_pod("p", script, restartPolicy="Always"))
    kc.wait(lambda: phase(kc, ns, "p") == "Running", 30, "the pod to run")
    kc.wait(lambda: "started" in kc.pod_log(ns, "p", "main"), 10, "the shell to start")
    t0 = time.time()
    kc.core.delete_namespaced_pod("p", ns)
    kc.wait(lambda: gone(kc, ns, "p"), 30, "the pod to be removed")
    assert time.time() - t0 < 9, "the process should have stopped on SIGTERM, well before the grace period"
    with open(os.path.join(kc.pod_root(ns, "p"), "term")) as f:
        assert f.read() == "got-sigterm\n"


def test_grace_period_ends_in_sigkill(kube_cluster):
    kc = kube_cluster
    ns = kc.namespace("sigkill")
    pod = shell_pod("p", 'trap "" TERM; echo started; while true; do sleep 0.1; done', restartPolicy="Always",
                    terminationGracePeriodSeconds=2)
    kc.core.create_namespaced_pod(ns, pod)
    kc.wait(lambda: "started" in kc.pod_log(ns, "p", "main"), 30, "the shell to start")
    pid = kc.pod_pid(ns, "p", "main")
    t0 = time.time()
    kc.core.delete_namespaced_pod("p", ns)
    kc.wait(lambda: gone(kc, ns, "p"), 30, "the pod to be removed")
    assert 1.5 < time.time() - t0 < 15
    assert not pid_alive(pid)


@pytest.mark.parametrize("command", [["/bin/sh", "-c", "true"]])
def test_featherman_image_runs_only_featherman(kube_cluster, command):
    kc = kube_cluster
    ns = kc.namespace("fmimg")
    kc.core.create_namespaced_pod(ns, {"metadata": {"name": "p"}, "spec": {"restartPolicy": "Never", "containers": [
        {"name": "c", "image": "featherman:test", "command": command}]}})
    kc.wait(lambda: phase(kc, ns, "p") == "Failed", 30, "the pod to fail")
    w = kc.core.read_namespaced_pod("p", ns).status.container_statuses[0].state.waiting
    assert w.reason == "RunContainerError" and "/bin/sh" in w.message


def test_a_restarted_runner_takes_its_pods_back(kube_cluster):
    import cluster
    import fixture
    kc = kube_cluster
    ns = kc.namespace("adopt")
    kc.core.create_namespaced_pod(ns, shell_pod("p", "echo up; exec sleep 300", restartPolicy="Always"))
    kc.wait(lambda: phase(kc, ns, "p") == "Running", 30, "the pod to run")
    old_pid = kc.pod_pid(ns, "p", "main")
    old_ip = kc.core.read_namespaced_pod("p", ns).status.pod_ip
    cluster.start_runner(kc.info, env_extra=fixture._runner_env(kc.info))  # stops the runner (and its pods), starts anew
    assert not pid_alive(old_pid)
    kc.wait(lambda: kc.pod_pid(ns, "p", "main") != old_pid and pid_alive(kc.pod_pid(ns, "p", "main")), 30,
            "the new runner to start the container again")
    kc.wait(lambda: phase(kc, ns, "p") == "Running" and kc.core.read_namespaced_pod("p", ns).status.container_statuses[0].ready,
            30, "the pod to be running and ready again")
    st = kc.core.read_namespaced_pod("p", ns).status
    assert st.pod_ip == old_ip
    assert st.container_statuses[0].state.running.started_at.timestamp() > time.time() - 30
    assert "status update failed" not in kc.runner_log()
    kc.core.delete_namespaced_pod("p", ns)
    kc.wait(lambda: gone(kc, ns, "p"), 30, "the pod to be removed")


WEBHOOK_SERVER = r'''
import json, os, ssl, http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        req = review["request"]
        name = req["object"]["metadata"].get("name", "")
        allowed = not name.startswith("forbidden-")
        resp = {"uid": req["uid"], "allowed": allowed}
        if not allowed:
            resp["status"] = {"code": 403, "message": "refused by the test webhook"}
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": resp}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
tls = os.environ["FEATHERMAN_ROOT"] + "/tls"
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(tls + "/tls.crt", tls + "/tls.key")
srv = http.server.HTTPServer((os.environ["POD_IP"], 8443), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
'''


def test_admission_webhook_reached_by_url(kube_cluster, tmp_path):
    """How webhooks work here (EndpointSlices cannot hold loopback IPs): clientConfig.url with the
    Pod's address and a serving certificate valid for it."""
    import subprocess
    kc = kube_cluster
    ns = kc.namespace("webhook")
    pki = os.path.join(kc.state, "pki")
    key, csr, crt, ext = (str(tmp_path / n) for n in ("tls.key", "tls.csr", "tls.crt", "ext"))
    with open(ext, "w") as f:  # valid for every pod address, so the cert can exist before the Pod
        f.write("extendedKeyUsage=serverAuth\nsubjectAltName=" + ",".join(f"IP:{kc.ip_prefix}{n}" for n in range(2, 255)) + "\n")
    for argv in (["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key],
                 ["req", "-new", "-key", key, "-subj", "/CN=test-webhook", "-out", csr],
                 ["x509", "-req", "-in", csr, "-CA", f"{pki}/ca.crt", "-CAkey", f"{pki}/ca.key", "-CAcreateserial",
                  "-days", "2", "-extfile", ext, "-out", crt]):
        subprocess.run(["openssl", *argv], check=True, capture_output=True)
    kc.core.create_namespaced_secret(ns, {"metadata": {"name": "tls"}, "type": "kubernetes.io/tls", "data": {
        "tls.crt": base64.b64encode(open(crt, "rb").read()).decode(),
        "tls.key": base64.b64encode(open(key, "rb").read()).decode()}})
    kc.core.create_namespaced_config_map(ns, {"metadata": {"name": "server"}, "data": {"server.py": WEBHOOK_SERVER}})
    kc.core.create_namespaced_pod(ns, shell_pod(
        "hook", "exec python3 $FEATHERMAN_ROOT/srv/server.py", restartPolicy="Always",
        volumeMounts=[{"name": "tls", "mountPath": "/tls"}, {"name": "srv", "mountPath": "/srv"}],
        volumes=[{"name": "tls", "secret": {"secretName": "tls"}}, {"name": "srv", "configMap": {"name": "server"}}],
        readinessProbe={"tcpSocket": {"port": 8443}, "periodSeconds": 1}))
    pod = kc.wait(lambda: (lambda p: p.status.container_statuses and p.status.container_statuses[0].ready and p)(
        kc.core.read_namespaced_pod("hook", ns)), 30, "the webhook pod to be ready")
    adm = kc.kubernetes.client.AdmissionregistrationV1Api(kc.client)
    name = f"test-{ns}"
    adm.create_validating_webhook_configuration({"metadata": {"name": name}, "webhooks": [{
        "name": "deny.test.featherman.dev", "admissionReviewVersions": ["v1"], "sideEffects": "None",
        "failurePolicy": "Fail", "timeoutSeconds": 5,
        "clientConfig": {"url": f"https://{pod.status.pod_ip}:8443/validate",
                         "caBundle": base64.b64encode(open(f"{pki}/ca.crt", "rb").read()).decode()},
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
        "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}]}]})
    try:
        def refused():
            try:
                kc.core.create_namespaced_config_map(ns, {"metadata": {"name": "forbidden-1"}})
                kc.core.delete_namespaced_config_map("forbidden-1", ns)  # webhook not active yet
                return False
            except kc.kubernetes.client.ApiException as e:
                return e.status == 403 and "refused by the test webhook" in e.body and e
        kc.wait(refused, 30, "the webhook to refuse")
        kc.core.create_namespaced_config_map(ns, {"metadata": {"name": "allowed"}})
    finally:
        adm.delete_validating_webhook_configuration(name)


def test_pod_logs_through_the_api(kube_cluster):
    kc = kube_cluster
    ns = kc.namespace("logs")
    kc.core.create_namespaced_pod(ns, shell_pod("p", "echo one; echo two >&2; echo three"))
    kc.wait(lambda: phase(kc, ns, "p") == "Succeeded", 30, "the pod to finish")
    assert kc.core.read_namespaced_pod_log("p", ns) == "one\ntwo\nthree\n"
    assert kc.kubectl("logs", "-n", ns, "p", "--tail=1") == "three\n"
    kc.core.create_namespaced_pod(ns, shell_pod("f", "for i in 1 2 3; do echo line-$i; sleep 0.3; done"))
    kc.wait(lambda: phase(kc, ns, "f") == "Running", 30, "the pod to run")
    assert kc.kubectl("logs", "-n", ns, "f", "-f").splitlines() == ["line-1", "line-2", "line-3"]


def test_active_deadline(kube_cluster):
    kc = kube_cluster
    ns = kc.namespace("deadline")
    kc.core.create_namespaced_pod(ns, shell_pod("p", "exec sleep 300", activeDeadlineSeconds=1))
    kc.wait(lambda: phase(kc, ns, "p") == "Failed", 30, "the deadline to end the pod")
    assert kc.core.read_namespaced_pod("p", ns).status.reason == "DeadlineExceeded"


def test_deployment_rolls_out_and_scales(kube_cluster):
    kc = kube_cluster
    ns = kc.namespace("deploy")
    apps = kc.kubernetes.client.AppsV1Api(kc.client)
    apps.create_namespaced_deployment(ns, {"metadata": {"name": "d"}, "spec": {
        "replicas": 2, "selector": {"matchLabels": {"app": "d"}},
        "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"terminationGracePeriodSeconds": 2, "containers": [
            {"name": "c", "image": "busybox-test", "command": ["sleep", "300"]}]}}}})
    kc.wait(lambda: apps.read_namespaced_deployment("d", ns).status.ready_replicas == 2, 60, "two ready replicas")
    ips = {p.status.pod_ip for p in kc.core.list_namespaced_pod(ns).items}
    assert len(ips) == 2
    apps.patch_namespaced_deployment_scale("d", ns, {"spec": {"replicas": 1}})
    kc.wait(lambda: len(kc.core.list_namespaced_pod(ns).items) == 1, 60, "one pod left")


def test_init_containers_run_first(kube_cluster):
    kc = kube_cluster
    ns = kc.namespace("init")
    shared = [{"name": "d", "mountPath": "/work"}]
    pod = shell_pod("p", "cat $FEATHERMAN_ROOT/work/greeting", volumeMounts=shared, volumes=[{"name": "d", "emptyDir": {}}])
    pod["spec"]["initContainers"] = [
        {"name": "one", "image": "busybox-test", "command": ["/bin/sh", "-c", "echo hello > $FEATHERMAN_ROOT/work/greeting"],
         "volumeMounts": shared},
        {"name": "two", "image": "busybox-test", "command": ["/bin/sh", "-c", "echo world >> $FEATHERMAN_ROOT/work/greeting"],
         "volumeMounts": shared}]
    kc.core.create_namespaced_pod(ns, pod)
    kc.wait(lambda: phase(kc, ns, "p") == "Succeeded", 30, "the pod to succeed")
    assert kc.pod_log(ns, "p", "main").endswith("hello\nworld\n")
    st = kc.core.read_namespaced_pod("p", ns).status
    assert [s.state.terminated.reason for s in st.init_container_statuses] == ["Completed", "Completed"]
    assert any(c.type == "Initialized" and c.status == "True" for c in st.conditions)

    bad = shell_pod("bad", "echo never")
    bad["spec"]["initContainers"] = [{"name": "fail", "image": "busybox-test", "command": ["/bin/sh", "-c", "exit 7"]}]
    kc.core.create_namespaced_pod(ns, bad)
    kc.wait(lambda: phase(kc, ns, "bad") == "Failed", 30, "the pod to fail")
    st = kc.core.read_namespaced_pod("bad", ns).status
    assert st.init_container_statuses[0].state.terminated.exit_code == 7
    assert kc.pod_log(ns, "bad", "main") == ""
    assert st.container_statuses[0].state.waiting.reason == "PodInitializing"


def test_missing_binaries_are_a_clear_error(monkeypatch):
    import cluster
    monkeypatch.setenv("FEATHERMAN_K8S_BIN_DIR", "/nonexistent/k8s/bin")
    with pytest.raises(cluster.ClusterError, match=r"kube-apiserver binary missing at /nonexistent/k8s/bin/kube-apiserver: "
                                                   r"run scripts/bootstrap.sh --test"):
        cluster.binaries()
