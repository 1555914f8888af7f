"""Jobs run end to end, observed through the official Python kubernetes client.

Run by the Rust integration test `e2e_jobs::python_client_sees_jobs_run`, which starts a real
`runlet server` (with its embedded agent) and sets KUBECONFIG and QUEUE_DIR. Each test uses its
own namespace so the tests can run side by side; every wait is bounded.
"""

import os
import threading
import time
import unittest

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

TIMEOUT = 60


def pod_spec(command, restart_policy="Never", volumes=None, mounts=None):
    container = client.V1Container(
        name="main", image="busybox", command=["sh", "-c", command], volume_mounts=mounts
    )
    return client.V1PodTemplateSpec(
        spec=client.V1PodSpec(
            containers=[container],
            restart_policy=restart_policy,
            volumes=volumes,
            termination_grace_period_seconds=2,
        )
    )


def finished(job):
    for c in (job.status.conditions or []) if job.status else []:
        if c.type in ("Complete", "Failed") and c.status == "True":
            return c.type
    return None


class JobsEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        config.load_kube_config()
        cls.core = client.CoreV1Api()
        cls.batch = client.BatchV1Api()

    def namespace(self, name):
        self.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        return name

    def wait_finished(self, ns, name, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.batch.read_namespaced_job(name, ns)
            if finished(job):
                return job
            time.sleep(0.1)
        self.fail(f"job {ns}/{name} did not finish within {timeout}s")

    def test_parallelism_is_never_exceeded_while_completions_are_reached(self):
        # Upstream: "the actual number of pods running in steady state will be less than
        # [parallelism]" — active pods never exceed spec.parallelism.
        ns = self.namespace("py-parallel")
        w = watch.Watch()
        active, peak, seen = set(), [0], set()
        ready = threading.Event()

        def observe():
            for ev in w.stream(self.core.list_namespaced_pod, ns, timeout_seconds=TIMEOUT,
                               _request_timeout=TIMEOUT + 5):
                ready.set()
                pod = ev["object"]
                name = pod.metadata.name
                seen.add(name)
                phase = pod.status.phase if pod.status else None
                if ev["type"] == "DELETED" or phase in ("Succeeded", "Failed") \
                        or pod.metadata.deletion_timestamp:
                    active.discard(name)
                else:
                    active.add(name)
                peak[0] = max(peak[0], len(active))

        watcher = threading.Thread(target=observe, daemon=True)
        watcher.start()
        body = client.V1Job(
            metadata=client.V1ObjectMeta(name="fan"),
            spec=client.V1JobSpec(completions=8, parallelism=3,
                                  template=pod_spec("sleep 0.3; echo done")),
        )
        self.batch.create_namespaced_job(ns, body)
        job = self.wait_finished(ns, "fan")
        w.stop()
        watcher.join(timeout=TIMEOUT + 10)
        self.assertEqual(finished(job), "Complete")
        self.assertEqual(job.status.succeeded, 8)
        self.assertGreaterEqual(len(seen), 8)
        self.assertLessEqual(peak[0], 3, f"at most parallelism=3 pods active, saw {peak[0]}")
        self.assertGreaterEqual(peak[0], 2, "pods did run in parallel")

    def test_work_queue_job_completes_when_the_queue_is_drained(self):
        # Upstream work-queue pattern: completions unset; once any pod succeeds and all
        # have ended, the Job is Complete. Items are taken atomically with `mv`.
        ns = self.namespace("py-queue")
        queue = os.environ["QUEUE_DIR"]
        os.makedirs(f"{queue}/todo")
        os.makedirs(f"{queue}/done")
        for i in range(12):
            open(f"{queue}/todo/item-{i}", "w").close()
        script = (
            "for f in /queue/todo/*; do "
            "  [ -e \"$f\" ] || continue; "
            "  mv \"$f\" /queue/done/ 2>/dev/null && echo \"$HOSTNAME took $(basename $f)\"; "
            "  sleep 0.05; "
            "done"
        )
        vol = client.V1Volume(name="queue", host_path=client.V1HostPathVolumeSource(path=queue))
        mount = client.V1VolumeMount(name="queue", mount_path="/queue")
        body = client.V1Job(
            metadata=client.V1ObjectMeta(name="workers"),
            spec=client.V1JobSpec(parallelism=3,
                                  template=pod_spec(script, volumes=[vol], mounts=[mount])),
        )
        self.batch.create_namespaced_job(ns, body)
        job = self.wait_finished(ns, "workers")
        self.assertEqual(finished(job), "Complete")
        self.assertIsNone(job.spec.completions)
        self.assertGreaterEqual(job.status.succeeded, 1)
        self.assertEqual(os.listdir(f"{queue}/todo"), [])
        self.assertEqual(len(os.listdir(f"{queue}/done")), 12)
        taken = []
        for pod in self.core.list_namespaced_pod(ns, label_selector="job-name=workers").items:
            log = self.core.read_namespaced_pod_log(pod.metadata.name, ns)
            taken += [line.split()[-1] for line in log.splitlines() if " took " in line]
        self.assertEqual(sorted(taken), sorted(f"item-{i}" for i in range(12)),
                         "every item processed exactly once")

    def test_indexed_job_gives_each_pod_its_index(self):
        ns = self.namespace("py-indexed")
        body = client.V1Job(
            metadata=client.V1ObjectMeta(name="shards"),
            spec=client.V1JobSpec(completions=4, parallelism=2, completion_mode="Indexed",
                                  template=pod_spec("echo index=$JOB_COMPLETION_INDEX")),
        )
        self.batch.create_namespaced_job(ns, body)
        job = self.wait_finished(ns, "shards")
        self.assertEqual(finished(job), "Complete")
        self.assertEqual(job.status.completed_indexes, "0-3")
        pods = self.core.list_namespaced_pod(ns, label_selector="job-name=shards").items
        by_index = {}
        for pod in pods:
            index = pod.metadata.annotations["batch.kubernetes.io/job-completion-index"]
            self.assertEqual(pod.metadata.labels["batch.kubernetes.io/job-completion-index"], index)
            by_index[index] = self.core.read_namespaced_pod_log(pod.metadata.name, ns).strip()
        self.assertEqual(by_index, {str(i): f"index={i}" for i in range(4)})


if __name__ == "__main__":
    unittest.main()
