"""The official Python kubernetes client against a running runlet server.

Run by the Rust integration test `python::official_python_client_suite`, which starts the
server and sets KUBECONFIG. Every wait is bounded.
"""

import datetime
import json
import threading
import unittest

import yaml

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream

NS = "py-tests"


def job_body(name, restart_policy="Never"):
    container = client.V1Container(name="main", image="busybox", command=["sh", "-c", "echo hi"])
    spec = client.V1PodSpec(containers=[container])
    if restart_policy:
        spec.restart_policy = restart_policy
    return client.V1Job(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1JobSpec(template=client.V1PodTemplateSpec(spec=spec), backoff_limit=2),
    )


class ClientTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        config.load_kube_config()
        cls.core = client.CoreV1Api()
        cls.batch = client.BatchV1Api()
        try:
            cls.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
        except ApiException as e:
            if e.status != 409:
                raise

    def test_namespaces_crud_and_lists_never_null(self):
        names = [n.metadata.name for n in self.core.list_namespace().items]
        self.assertIn("default", names)
        self.assertIn(NS, names)
        empty = self.core.list_namespaced_config_map(NS, label_selector="nothing=here")
        self.assertEqual(empty.items, [])

    def test_configmap_crud(self):
        cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cfg", labels={"app": "x"}), data={"a": "1"})
        created = self.core.create_namespaced_config_map(NS, cm)
        self.assertEqual(created.data, {"a": "1"})
        created.data["b"] = "2"
        replaced = self.core.replace_namespaced_config_map("cfg", NS, created)
        self.assertNotEqual(replaced.metadata.resource_version, created.metadata.resource_version)
        patched = self.core.patch_namespaced_config_map("cfg", NS, {"data": {"c": "3"}})
        self.assertEqual(patched.data, {"a": "1", "b": "2", "c": "3"})
        selected = self.core.list_namespaced_config_map(NS, label_selector="app=x")
        self.assertEqual([c.metadata.name for c in selected.items], ["cfg"])
        self.core.delete_namespaced_config_map("cfg", NS)
        with self.assertRaises(ApiException) as ctx:
            self.core.read_namespaced_config_map("cfg", NS)
        self.assertEqual(ctx.exception.status, 404)

    def test_stale_update_is_a_conflict(self):
        cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="conflict"), data={"a": "1"})
        first = self.core.create_namespaced_config_map(NS, cm)
        self.core.patch_namespaced_config_map("conflict", NS, {"data": {"a": "2"}})
        with self.assertRaises(ApiException) as ctx:
            self.core.replace_namespaced_config_map("conflict", NS, first)
        self.assertEqual(ctx.exception.status, 409)

    def test_secret_roundtrip(self):
        s = client.V1Secret(metadata=client.V1ObjectMeta(name="creds"), string_data={"password": "hunter2"})
        self.core.create_namespaced_secret(NS, s)
        got = self.core.read_namespaced_secret("creds", NS)
        self.assertEqual(got.data["password"], "aHVudGVyMg==")
        self.assertEqual(got.type, "Opaque")

    def test_job_crud_and_defaults(self):
        created = self.batch.create_namespaced_job(NS, job_body("pyjob"))
        self.assertEqual(created.spec.completions, 1)
        self.assertEqual(created.spec.parallelism, 1)
        self.assertEqual(created.spec.completion_mode, "NonIndexed")
        self.assertEqual(created.spec.backoff_limit, 2)
        patched = self.batch.patch_namespaced_job("pyjob", NS, {"spec": {"parallelism": 2}})
        self.assertEqual(patched.spec.parallelism, 2)
        jobs = self.batch.list_namespaced_job(NS)
        self.assertIn("pyjob", [j.metadata.name for j in jobs.items])
        deleted = self.batch.delete_namespaced_job("pyjob", NS, propagation_policy="Background")
        # As upstream's Job storage: a Job removed at once is answered with a Status (which
        # this client hands back as a dict).
        self.assertEqual(deleted["kind"], "Status")
        self.assertEqual(deleted["status"], "Success")
        self.assertEqual(
            deleted["details"],
            {"name": "pyjob", "group": "batch", "kind": "jobs", "uid": created.metadata.uid},
        )
        with self.assertRaises(ApiException) as ctx:
            self.batch.read_namespaced_job("pyjob", NS)
        self.assertEqual(ctx.exception.status, 404)

    def test_invalid_job_is_422_with_field_cause(self):
        with self.assertRaises(ApiException) as ctx:
            self.batch.create_namespaced_job(NS, job_body("nopolicy", restart_policy=None))
        self.assertEqual(ctx.exception.status, 422)
        self.assertIn("spec.template.spec.restartPolicy", ctx.exception.body)

    def test_duplicate_create_is_409(self):
        self.batch.create_namespaced_job(NS, job_body("dup"))
        with self.assertRaises(ApiException) as ctx:
            self.batch.create_namespaced_job(NS, job_body("dup"))
        self.assertEqual(ctx.exception.status, 409)
        self.assertIn("AlreadyExists", ctx.exception.body)

    def test_delete_collection_by_label(self):
        for i, team in enumerate(["a", "a", "b"]):
            meta = client.V1ObjectMeta(name=f"dc{i}", labels={"team": team})
            self.core.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=meta))
        self.core.delete_collection_namespaced_config_map(NS, label_selector="team=a")
        left = self.core.list_namespaced_config_map(NS, label_selector="team").items
        self.assertEqual([c.metadata.name for c in left], ["dc2"])

    def test_events_by_involved_object(self):
        ref = client.V1ObjectReference(kind="Job", name="ev-job", namespace=NS, uid="u-1")
        ev = client.CoreV1Event(
            metadata=client.V1ObjectMeta(name="ev-job.1"),
            involved_object=ref,
            reason="SuccessfulCreate",
            message="Created pod: ev-job-abcde",
            type="Normal",
        )
        self.core.create_namespaced_event(NS, ev)
        found = self.core.list_namespaced_event(NS, field_selector="involvedObject.name=ev-job,involvedObject.kind=Job")
        self.assertEqual([e.reason for e in found.items], ["SuccessfulCreate"])
        none = self.core.list_namespaced_event(NS, field_selector="involvedObject.name=other")
        self.assertEqual(none.items, [])

    def test_events_k8s_io_and_core_events_are_one_resource(self):
        events_api = client.EventsV1Api()
        ev = client.EventsV1Event(
            metadata=client.V1ObjectMeta(name="new-style"),
            event_time=datetime.datetime.now(datetime.timezone.utc),
            reporting_controller="runlet.dev/test",
            reporting_instance="test-1",
            action="Create",
            reason="Created",
            note="made through events.k8s.io",
            type="Normal",
            regarding=client.V1ObjectReference(kind="Job", name="ev2", namespace=NS),
        )
        events_api.create_namespaced_event(NS, ev)
        core = self.core.read_namespaced_event("new-style", NS)
        self.assertEqual(core.message, "made through events.k8s.io")
        self.assertEqual(core.involved_object.name, "ev2")
        self.assertEqual(core.reporting_component, "runlet.dev/test")
        back = events_api.read_namespaced_event("new-style", NS)
        self.assertEqual(back.note, "made through events.k8s.io")

    def test_watch_resumes_from_resource_version(self):
        start = self.core.list_namespaced_config_map(NS).metadata.resource_version
        for i in range(3):
            self.core.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"w{i}")))
        seen = []
        w = watch.Watch()
        for event in w.stream(self.core.list_namespaced_config_map, NS, resource_version=start, timeout_seconds=10):
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 3:
                w.stop()
        self.assertEqual(seen, [("ADDED", "w0"), ("ADDED", "w1"), ("ADDED", "w2")])

    def test_watch_delivers_live_events(self):
        start = self.core.list_namespaced_config_map(NS).metadata.resource_version
        seen = []
        w = watch.Watch()

        def mutate():
            self.core.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="live")))
            self.core.patch_namespaced_config_map("live", NS, {"data": {"x": "y"}})
            self.core.delete_namespaced_config_map("live", NS)

        threading.Timer(0.5, mutate).start()
        for event in w.stream(self.core.list_namespaced_config_map, NS, resource_version=start, timeout_seconds=15):
            if event["object"].metadata.name == "live":
                seen.append(event["type"])
            if len(seen) == 3:
                w.stop()
        self.assertEqual(seen, ["ADDED", "MODIFIED", "DELETED"])

    def test_self_subject_reviews_answer_for_the_caller(self):
        review = client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(
                    verb="create", group="batch", resource="jobs", namespace=NS
                )
            )
        )
        answer = client.AuthorizationV1Api().create_self_subject_access_review(review)
        self.assertTrue(answer.status.allowed)
        self.assertEqual(answer.spec.resource_attributes.resource, "jobs")
        who = client.AuthenticationV1Api().create_self_subject_review(client.V1SelfSubjectReview())
        self.assertIn("system:authenticated", who.status.user_info.groups)

    def test_a_requested_token_authenticates_as_its_service_account(self):
        self.core.create_namespaced_service_account(
            NS, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="robot"))
        )
        request = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=600)
        )
        issued = self.core.create_namespaced_service_account_token("robot", NS, request)
        self.assertEqual(issued.spec.expiration_seconds, 600)
        self.assertEqual(issued.spec.audiences, ["https://kubernetes.default.svc.cluster.local"])
        self.assertTrue(issued.status.token.startswith("eyJ"))
        as_robot = client.Configuration.get_default_copy()
        as_robot.cert_file = None
        as_robot.key_file = None
        as_robot.api_key = {"authorization": "Bearer " + issued.status.token}
        with client.ApiClient(as_robot) as api:
            who = client.AuthenticationV1Api(api).create_self_subject_review(client.V1SelfSubjectReview())
        self.assertEqual(who.status.user_info.username, f"system:serviceaccount:{NS}:robot")
        with self.assertRaises(ApiException) as refused:
            self.core.create_namespaced_service_account_token(
                "robot", NS, client.AuthenticationV1TokenRequest(
                    spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=60)
                )
            )
        self.assertEqual(refused.exception.status, 422)
        body = json.loads(refused.exception.body)
        self.assertEqual(body["details"]["causes"][0]["field"], "spec.expirationSeconds")

    def test_eviction_deletes_the_pod(self):
        pod = client.V1Pod(
            metadata=client.V1ObjectMeta(name="evictee"),
            spec=client.V1PodSpec(
                containers=[client.V1Container(name="c", image="busybox", command=["sleep", "300"])],
                scheduler_name="nobody",  # stays unscheduled: nothing to wait for
            ),
        )
        self.core.create_namespaced_pod(NS, pod)
        eviction = client.V1Eviction(metadata=client.V1ObjectMeta(name="evictee", namespace=NS))
        self.core.create_namespaced_pod_eviction("evictee", NS, eviction)
        with self.assertRaises(ApiException) as gone:
            self.core.read_namespaced_pod("evictee", NS)
        self.assertEqual(gone.exception.status, 404)

    def test_a_claim_gets_its_protection_and_goes_at_once_when_unused(self):
        pvc = client.V1PersistentVolumeClaim(
            metadata=client.V1ObjectMeta(name="unused"),
            spec=client.V1PersistentVolumeClaimSpec(
                access_modes=["ReadWriteOnce"],
                resources=client.V1VolumeResourceRequirements(requests={"storage": "1Gi"}),
            ),
        )
        created = self.core.create_namespaced_persistent_volume_claim(NS, pvc)
        self.assertEqual(created.metadata.finalizers, ["kubernetes.io/pvc-protection"])
        self.core.delete_namespaced_persistent_volume_claim("unused", NS)
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=30)
        while datetime.datetime.now() < deadline:
            try:
                self.core.read_namespaced_persistent_volume_claim("unused", NS)
            except ApiException as e:
                self.assertEqual(e.status, 404)
                return
            threading.Event().wait(0.1)
        self.fail("an unused claim was still there after 30 s")


    def test_exec_streams_a_commands_output_input_and_exit_code(self):
        pod = client.V1Pod(
            metadata=client.V1ObjectMeta(name="shell"),
            spec=client.V1PodSpec(
                containers=[
                    client.V1Container(
                        name="c",
                        image="busybox",
                        command=["sleep", "300"],
                        env=[client.V1EnvVar(name="GREETING", value="hello")],
                    )
                ],
            ),
        )
        self.core.create_namespaced_pod(NS, pod)
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=60)
        while self.core.read_namespaced_pod("shell", NS).status.phase != "Running":
            self.assertLess(datetime.datetime.now(), deadline, "the pod never ran")
            threading.Event().wait(0.1)
        # All output at once: stdout and stderr together, the container's environment. The two
        # are separate pipes and channels, so which comes first is not kept (nor upstream).
        out = stream(
            self.core.connect_get_namespaced_pod_exec, "shell", NS,
            command=["sh", "-c", "echo $GREETING; echo oops >&2"],
            stdout=True, stderr=True, stdin=False, tty=False,
        )
        self.assertEqual(sorted(out.splitlines(keepends=True)), ["hello\n", "oops\n"])
        # Interactive: stdin in, separate streams out, and the exit code.
        resp = stream(
            self.core.connect_get_namespaced_pod_exec, "shell", NS,
            command=["sh", "-c", "read line; echo got $line; echo bad >&2; exit 7"],
            stdout=True, stderr=True, stdin=True, tty=False, _preload_content=False,
        )
        try:
            resp.write_stdin("typed\n")
            resp.run_forever(timeout=30)
            self.assertEqual(resp.read_stdout(), "got typed\n")
            self.assertEqual(resp.read_stderr(), "bad\n")
            self.assertEqual(resp.returncode, 7)
        finally:
            resp.close()
        self.core.delete_namespaced_pod("shell", NS, grace_period_seconds=0)

    def test_options_upstream_refuses_are_refused_and_nothing_is_written(self):
        cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="dry"), data={"a": "1"})
        with self.assertRaises(ApiException) as ctx:
            self.core.create_namespaced_config_map(NS, cm, dry_run="true")
        self.assertEqual(ctx.exception.status, 422)
        body = json.loads(ctx.exception.body)
        self.assertEqual(
            body["message"],
            'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["true"]: supported values: "All"',
        )
        self.assertEqual(body["details"]["causes"][0]["field"], "dryRun")
        with self.assertRaises(ApiException) as ctx:
            self.core.read_namespaced_config_map("dry", NS)
        self.assertEqual(ctx.exception.status, 404, "a refused dry run wrote nothing")

        self.core.create_namespaced_config_map(NS, cm)
        with self.assertRaises(ApiException) as ctx:
            self.core.delete_namespaced_config_map("dry", NS, dry_run="true")
        self.assertEqual(ctx.exception.status, 422)
        with self.assertRaises(ApiException) as ctx:
            self.core.delete_namespaced_config_map("dry", NS, propagation_policy="Bogus")
        self.assertEqual(ctx.exception.status, 422)
        self.assertIn(
            'propagationPolicy: Unsupported value: "Bogus": supported values: "Foreground", "Background", "Orphan", "nil"',
            json.loads(ctx.exception.body)["message"],
        )
        self.core.delete_namespaced_config_map("dry", NS, dry_run="All")
        self.assertEqual(self.core.read_namespaced_config_map("dry", NS).data, {"a": "1"})
        self.core.delete_namespaced_config_map("dry", NS)

        with self.assertRaises(ApiException) as ctx:
            self.core.list_namespaced_config_map(NS, resource_version_match="NotOlderThan")
        self.assertEqual(ctx.exception.status, 422)
        self.assertEqual(
            json.loads(ctx.exception.body)["message"],
            'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided',
        )

    def test_system_namespaces_may_not_be_deleted(self):
        for name in ["default", "kube-system", "kube-public"]:
            for dry_run in [None, "All"]:
                with self.assertRaises(ApiException) as ctx:
                    self.core.delete_namespace(name, dry_run=dry_run)
                self.assertEqual(ctx.exception.status, 403)
                self.assertEqual(
                    json.loads(ctx.exception.body)["message"],
                    f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                )
            self.assertIsNone(self.core.read_namespace(name).metadata.deletion_timestamp)

    def test_emptied_metadata_collections_are_omitted(self):
        cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="emptied", labels={"a": "b"}))
        self.core.create_namespaced_config_map(NS, cm)
        self.core.patch_namespaced_config_map("emptied", NS, {"metadata": {"labels": {"a": None}}})
        raw = self.core.read_namespaced_config_map("emptied", NS, _preload_content=False)
        meta = json.loads(raw.data)["metadata"]
        self.assertNotIn("labels", meta, "an emptied label map is omitted, as upstream's omitempty")
        self.core.delete_namespaced_config_map("emptied", NS)

    def test_a_job_labelled_by_its_template_gets_the_generated_labels_too(self):
        body = job_body("labelled")
        body.spec.template.metadata = client.V1ObjectMeta(labels={"app": "yy"})
        created = self.batch.create_namespaced_job(NS, body)
        labels = created.metadata.labels
        self.assertEqual(labels["app"], "yy")
        self.assertEqual(labels["job-name"], "labelled")
        self.assertEqual(labels["batch.kubernetes.io/controller-uid"], created.metadata.uid)
        found = self.batch.list_namespaced_job(NS, label_selector="job-name=labelled").items
        self.assertEqual([j.metadata.name for j in found], ["labelled"])
        self.batch.delete_namespaced_job("labelled", NS, propagation_policy="Background")


    def test_server_side_apply_with_field_managers(self):
        def apply(manager, data, force=None):
            body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": data}
            return self.core.patch_namespaced_config_map(
                "ssa", NS, body, field_manager=manager, force=force,
                _content_type="application/apply-patch+yaml")

        created = apply("py-one", {"a": "1", "b": "2"})
        self.assertEqual(created.data, {"a": "1", "b": "2"})
        self.assertEqual([(m.manager, m.operation) for m in created.metadata.managed_fields], [("py-one", "Apply")])
        shrunk = apply("py-one", {"a": "1"})
        self.assertEqual(shrunk.data, {"a": "1"}, "b is no longer applied, and nobody else owns it")
        with self.assertRaises(ApiException) as ctx:
            apply("py-two", {"a": "9"})
        self.assertEqual(ctx.exception.status, 409)
        body = json.loads(ctx.exception.body)
        self.assertEqual(body["reason"], "Conflict")
        self.assertEqual(body["message"], 'Apply failed with 1 conflict: conflict with "py-one": .data.a')
        self.assertEqual(body["details"]["causes"], [
            {"reason": "FieldManagerConflict", "message": 'conflict with "py-one"', "field": ".data.a"}])
        forced = apply("py-two", {"a": "9"}, force=True)
        self.assertEqual(forced.data, {"a": "9"})
        with self.assertRaises(ApiException) as ctx:
            self.core.patch_namespaced_config_map(
                "ssa", NS, {"data": {}}, _content_type="application/apply-patch+yaml")
        self.assertEqual(ctx.exception.status, 422)
        self.assertIn("fieldManager: Required value: is required for apply patch", json.loads(ctx.exception.body)["message"])
        self.core.delete_namespaced_config_map("ssa", NS)


    def test_metadata_only_and_table_renderings(self):
        cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="meta-only", labels={"a": "b"}), data={"k": "v"})
        self.core.create_namespaced_config_map(NS, cm)

        def get(path, accept, query=""):
            api = self.core.api_client
            resp = api.call_api("GET", api.configuration.host + path + query, header_params={"Accept": accept})
            self.assertEqual(resp.status, 200)
            return json.loads(resp.read())

        listed = get(f"/api/v1/namespaces/{NS}/configmaps",
                     "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json")
        self.assertEqual((listed["kind"], listed["apiVersion"]), ("PartialObjectMetadataList", "meta.k8s.io/v1"))
        item = [i for i in listed["items"] if i["metadata"]["name"] == "meta-only"][0]
        self.assertEqual(item["kind"], "PartialObjectMetadata")
        self.assertEqual(item["metadata"]["labels"], {"a": "b"})
        self.assertNotIn("data", item)
        one = get(f"/api/v1/namespaces/{NS}/configmaps/meta-only",
                  "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1")
        self.assertEqual(one["kind"], "PartialObjectMetadata")
        self.assertNotIn("data", one)
        table = get(f"/api/v1/namespaces/{NS}/configmaps", "application/json;as=Table;v=v1;g=meta.k8s.io",
                    "?includeObject=None")
        self.assertTrue(table["rows"])
        self.assertTrue(all("object" not in row for row in table["rows"]), "includeObject=None sends no objects")
        api = self.core.api_client
        for path, accept, message in [
            (f"/api/v1/namespaces/{NS}/configmaps/meta-only",
             "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
             "you requested PartialObjectMetadataList, but the requested object is not a list (*core.ConfigMap)"),
            (f"/api/v1/namespaces/{NS}/configmaps",
             "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
             "you requested PartialObjectMetadata, but the requested object is a list (*core.ConfigMapList)"),
        ]:
            refused = api.call_api("GET", api.configuration.host + path, header_params={"Accept": accept})
            self.assertEqual((refused.status, json.loads(refused.read())["message"]), (406, message))
        bogus = api.call_api("GET", api.configuration.host + f"/api/v1/namespaces/{NS}/configmaps?includeObject=Bogus",
                             header_params={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
        self.assertEqual((bogus.status, json.loads(bogus.read())["message"]),
                         (400, 'unrecognized includeObject value: "Bogus"'))
        raw = api.call_api("GET", api.configuration.host + f"/api/v1/namespaces/{NS}/configmaps/meta-only",
                           header_params={"Accept": "application/yaml"})
        self.assertEqual(raw.getheader("Content-Type"), "application/yaml")
        text = raw.read().decode()
        self.assertEqual(yaml.safe_load(text)["data"], {"k": "v"})
        self.assertLess(text.index("apiVersion:"), text.index("data:"), "keys in order, as upstream's YAML")
        self.assertLess(text.index("data:"), text.index("kind:"))
        refused = api.call_api("GET", api.configuration.host + f"/api/v1/namespaces/{NS}/configmaps",
                               header_params={"Accept": "text/html"})
        self.assertEqual(refused.status, 406)
        self.assertEqual(json.loads(refused.read())["message"],
                         "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf")
        watched = api.call_api(
            "GET", api.configuration.host + f"/api/v1/namespaces/{NS}/configmaps"
            "?watch=1&timeoutSeconds=1&fieldSelector=metadata.name%3Dmeta-only",
            header_params={"Accept": "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"})
        event = json.loads(watched.read().splitlines()[0])
        self.assertEqual((event["type"], event["object"]["kind"]), ("ADDED", "PartialObjectMetadata"))
        self.core.delete_namespaced_config_map("meta-only", NS)


if __name__ == "__main__":
    unittest.main()
