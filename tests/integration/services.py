"""Real services for the integration tests, each started privately on 127.0.0.1:
MinIO (S3) and a PostgreSQL cluster (initdb in a temporary directory). Paths to the binaries
come from build/config.mk, which scripts/bootstrap.sh --test writes."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def config():
    vals = {}
    with open(os.path.join(ROOT, "build", "config.mk")) as f:
        for line in f:
            m = re.match(r"(\w+)\s*:=\s*(.*)", line.strip())
            if m:
                vals[m.group(1)] = m.group(2)
    return vals


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30.0, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class MinIO:
    ACCESS_KEY = "featherman-test"
    SECRET_KEY = "featherman-test-secret-1234"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="fm-minio-")
        self.port = free_port()
        self.console = free_port()
        env = dict(os.environ, MINIO_ROOT_USER=self.ACCESS_KEY, MINIO_ROOT_PASSWORD=self.SECRET_KEY,
                   MINIO_BROWSER="off", MINIO_UPDATE="off", CI="true")
        self.log = open(os.path.join(self.dir, "minio.log"), "w")
        self.proc = subprocess.Popen(
            [config()["MINIO_BIN"], "server", os.path.join(self.dir, "data"), "--address", f"127.0.0.1:{self.port}",
             "--console-address", f"127.0.0.1:{self.console}", "--quiet"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port, proc=self.proc)
        self.endpoint = f"127.0.0.1:{self.port}"
        # readiness: the health endpoint answers once the storage is formatted
        import urllib.request
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://{self.endpoint}/minio/health/ready", timeout=1)
                break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)

    def client(self):
        import boto3
        from botocore.config import Config
        return boto3.client("s3", endpoint_url=f"http://{self.endpoint}", aws_access_key_id=self.ACCESS_KEY,
                            aws_secret_access_key=self.SECRET_KEY, region_name="us-east-1",
                            config=Config(s3={"addressing_style": "path"}))

    def make_bucket(self, name):
        self.client().create_bucket(Bucket=name)

    def list(self, bucket, prefix=""):
        out = []
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            out += [o["Key"] for o in page.get("Contents", [])]
        return out

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Postgres:
    USER = "featherman"
    PASSWORD = "pg-secret-for-tests"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="fm-pg-")
        self.port = free_port()
        pgbin = config()["PG_BIN"]
        data = os.path.join(self.dir, "data")
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as f:
            f.write(self.PASSWORD)
        run_as = []
        if os.geteuid() == 0:  # initdb refuses root: run the cluster as the 'postgres' system user
            shutil.chown(self.dir, "postgres")
            os.chmod(self.dir, 0o755)
            shutil.chown(pwfile, "postgres")
            run_as = ["runuser", "-u", "postgres", "--"]
        subprocess.run(run_as + [f"{pgbin}/initdb", "-D", data, "-U", self.USER, "--pwfile", pwfile,
                                 "-A", "scram-sha-256", "--no-sync"], check=True, capture_output=True)
        self.proc = subprocess.Popen(
            run_as + [f"{pgbin}/postgres", "-D", data, "-p", str(self.port), "-h", "127.0.0.1",
                      "-k", self.dir, "-c", "fsync=off"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "pg.log"), "w"))
        wait_port(self.port, proc=self.proc)
        time.sleep(0.3)

    def psql(self, sql, db="postgres"):
        env = dict(os.environ, PGPASSWORD=self.PASSWORD)
        return subprocess.run([f"{config()['PG_BIN']}/psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.USER,
                               "-d", db, "-v", "ON_ERROR_STOP=1", "-tAc", sql], env=env, check=True,
                              capture_output=True, text=True).stdout

    def create_db(self, name):
        self.psql(f'CREATE DATABASE "{name}"')

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
