// Package k8s holds the Kubernetes manifests (see docs/operations.md#kubernetes)
// and, with no cluster at hand, the tests that stand in for one: every
// manifest is decoded strictly into the k8s.io/api types, and the rules that
// tie the manifests to each other and to the server are checked, the
// settings through the server's own parser.
package k8s

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/memories-facade/memories-graphql/internal/app"
)

// The server's names, as the manifests spell them.
const (
	serverName = "memories-graphql"
	redisName  = "memories-graphql-redis"
	httpPort   = "http"
	serverUID  = 65532 // the image's non-root user (Containerfile: USER 65532:65532)
)

// Measured memory (docs/testing.md#load-test, docs/live.md#measured,
// docs/operations.md): what the server's memory request and limit and
// GOMEMLIMIT are sized from.
const (
	// Peak RSS of the 60 s load test with the defaults (cache on), the
	// highest of its runs.
	measuredPeakRSS = 76.5 * (1 << 20)
	// RSS growth per idle subscription over SSE (28 KB over WebSocket).
	measuredPerSubscription = 58 << 10
	// Allocated while parsing the costliest accepted document; large new
	// documents are parsed GOMAXPROCS/2 at a time (graph/admission.go).
	measuredLargestDocument = 13.6 * (1 << 20)
)

// Drain timings of the server that no setting names: srv.Shutdown gets
// REQUEST_TIMEOUT + 5s (server.go), the trace exporter's shutdown 5s
// (internal/app/app.go), and closing touches Redis a few times, each bounded
// by REDIS_TIMEOUT.
const (
	shutdownBeyondRequestTimeout = 5 * time.Second
	tracingShutdown              = 5 * time.Second
	redisCommandsOnClose         = 4
)

// Files that no kustomization lists, on purpose.
var standalone = map[string]string{
	"secret.example.yaml":            "an example: the real Secret is created by hand",
	"monitoring/servicemonitor.yaml": "needs the Prometheus Operator's CRDs",
}

// Variables the Go runtime reads; they may sit in a container's env.
var runtimeVariables = map[string]bool{"GOMEMLIMIT": true, "GOGC": true, "GOMAXPROCS": true, "GODEBUG": true}

// object is one decoded manifest document.
type object struct {
	file string
	kind string
	name string
	obj  any
}

func (o object) String() string { return o.file + ": " + o.kind + "/" + o.name }

// serviceMonitor is the part of the Prometheus Operator's
// monitoring.coreos.com/v1 ServiceMonitor that the manifests use, for
// strict decoding without the operator's module. A field of the CRD that
// is not here fails the test: add it here first.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		JobLabel          string               `json:"jobLabel,omitempty"`
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector *struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector,omitempty"`
		Endpoints []struct {
			Port          string `json:"port,omitempty"`
			Path          string `json:"path,omitempty"`
			Scheme        string `json:"scheme,omitempty"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
			HonorLabels   bool   `json:"honorLabels,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// kustomization is the part of kustomize.config.k8s.io/v1beta1
// Kustomization that the folders use.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images,omitempty"`
}

// newObject returns a pointer to the type that apiVersion and kind decode
// into.
func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + " " + kind {
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, nil
	case "v1 Service":
		return &corev1.Service{}, nil
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1 Secret":
		return &corev1.Secret{}, nil
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}, nil
	case "networking.k8s.io/v1 NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, nil
	case "monitoring.coreos.com/v1 ServiceMonitor":
		return &serviceMonitor{}, nil
	case "kustomize.config.k8s.io/v1beta1 Kustomization":
		return &kustomization{}, nil
	}
	return nil, fmt.Errorf("no type for apiVersion %q kind %q: add one to newObject", apiVersion, kind)
}

// decodeStrict decodes one YAML document into its type as the API server's
// strict field validation does (sigs.k8s.io/json: field names match in
// case, an unknown or duplicate field is an error, named by its path). Then
// the object is encoded again, and every field of the document must come
// back with its value: nothing a custom decoder drops or changes passes.
func decodeStrict(doc []byte) (kind, name string, obj any, err error) {
	var tm struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return "", "", nil, err
	}
	obj, err = newObject(tm.APIVersion, tm.Kind)
	if err != nil {
		return "", "", nil, err
	}
	asJSON, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return "", "", nil, err
	}
	strict, err := kjson.UnmarshalStrict(asJSON, obj)
	if err != nil {
		return "", "", nil, err
	}
	if len(strict) > 0 {
		return "", "", nil, errors.Join(strict...)
	}
	var want, got any
	if err := json.Unmarshal(asJSON, &want); err != nil {
		return "", "", nil, err
	}
	again, err := json.Marshal(obj)
	if err != nil {
		return "", "", nil, err
	}
	if err := json.Unmarshal(again, &got); err != nil {
		return "", "", nil, err
	}
	if err := contains("", got, want); err != nil {
		return "", "", nil, err
	}
	return tm.Kind, tm.Metadata.Name, obj, nil
}

// contains reports where want, a decoded document, is not part of got, the
// same document decoded into its type and encoded again.
func contains(at string, got, want any) error {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, the type gives %T", at, got)
		}
		for k, v := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Errorf("%s.%s: not a field of the type (is it spelled with the type's case?)", at, k)
			}
			if err := contains(at+"."+k, gv, v); err != nil {
				return err
			}
		}
		return nil
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("%s: want a list of %d, the type gives %v", at, len(w), got)
		}
		for i := range w {
			if err := contains(fmt.Sprintf("%s[%d]", at, i), g[i], w[i]); err != nil {
				return err
			}
		}
		return nil
	case nil:
		return nil // an explicit null, such as an empty YAML value
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("%s: %v (%T) decodes to %v (%T)", at, want, want, got, got)
	}
	return nil
}

var (
	documentSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)
	commentLine       = regexp.MustCompile(`(?m)^\s*#.*$`)
)

// splitDocuments splits a YAML stream at its --- lines, leaving out
// documents of comments alone.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	for _, d := range documentSeparator.Split(string(data), -1) {
		if strings.TrimSpace(commentLine.ReplaceAllString(d, "")) != "" {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

// yamlFiles returns every .yaml and .yml file under the package folder,
// slash-separated and relative to it.
func yamlFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, filepath.ToSlash(p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no manifests found")
	}
	return files
}

// manifests is every decoded document, by kind and name.
type manifests struct {
	all            []object
	kustomizations map[string]*kustomization // by folder
}

func (m *manifests) find(t *testing.T, kind, name string) any {
	t.Helper()
	for _, o := range m.all {
		if o.kind == kind && o.name == name {
			return o.obj
		}
	}
	t.Fatalf("no %s named %q in the manifests", kind, name)
	return nil
}

func load(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{kustomizations: map[string]*kustomization{}}
	for _, f := range yamlFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs := splitDocuments(data)
		if len(docs) == 0 {
			t.Errorf("%s: no document", f)
		}
		for i, doc := range docs {
			kind, name, obj, err := decodeStrict(doc)
			if err != nil {
				t.Errorf("%s (document %d): %v", f, i+1, err)
				continue
			}
			if k, ok := obj.(*kustomization); ok {
				if path.Base(f) != "kustomization.yaml" {
					t.Errorf("%s: a Kustomization must be named kustomization.yaml", f)
				}
				m.kustomizations[path.Dir(f)] = k
				continue
			}
			if name == "" {
				t.Errorf("%s (document %d): %s without metadata.name", f, i+1, kind)
			}
			o := object{file: f, kind: kind, name: name, obj: obj}
			for _, other := range m.all {
				if other.kind == kind && other.name == name {
					t.Errorf("%s and %s: one name for two objects of a kind", other, o)
				}
			}
			m.all = append(m.all, o)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return m
}

// The decoder refuses what the API server would: the rules below rely on
// it.
func TestDecodeStrictRefuses(t *testing.T) {
	const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
	for _, tt := range []struct{ name, doc, want string }{
		{"unknown field", cm + "dat:\n  A: b\n", `unknown field "dat"`},
		{"field in the wrong case", "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  Selector:\n    a: b\n", `unknown field "spec.Selector"`},
		{"nested unknown field", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  template:\n    spec:\n      containers:\n        - name: c\n          readOnlyRootFS: true\n", `unknown field "spec.template.spec.containers[0].readOnlyRootFS"`},
		{"duplicate key", cm + "data:\n  A: b\n  A: c\n", `key "A" already set`},
		{"wrong type", cm + "data:\n  A:\n    - b\n", "cannot unmarshal"},
		{"a quantity not written as the API server stores it", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  template:\n    spec:\n      containers:\n        - name: c\n          resources:\n            limits:\n              memory: 0.5Gi\n", "decodes to 512Mi"},
		{"unknown kind", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n", "no type for"},
		{"unknown field in a ServiceMonitor", "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: x\nspec:\n  endpoint: []\n", `unknown field "spec.endpoint"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := decodeStrict([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v; want one containing %q", err, tt.want)
			}
		})
	}
}

// Every manifest decodes strictly into its k8s.io/api type.
func TestManifestsDecodeStrictly(t *testing.T) {
	m := load(t)
	kinds := map[string]int{}
	for _, o := range m.all {
		kinds[o.kind]++
		t.Logf("%s", o)
	}
	for _, k := range []string{"Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ServiceMonitor"} {
		if kinds[k] == 0 {
			t.Errorf("no %s among the manifests", k)
		}
	}
}

// Every file is reachable from deploy/k8s/kustomization.yaml, or is one of
// the standalone ones; every resource a kustomization names exists.
func TestKustomizations(t *testing.T) {
	m := load(t)
	listed := map[string]bool{}
	var visit func(dir string)
	visit = func(dir string) {
		k, ok := m.kustomizations[dir]
		if !ok {
			t.Errorf("%s: no kustomization.yaml", dir)
			return
		}
		listed[path.Join(dir, "kustomization.yaml")] = true
		for _, r := range k.Resources {
			p := path.Join(dir, r)
			st, err := os.Stat(p)
			switch {
			case err != nil:
				t.Errorf("%s/kustomization.yaml: resource %s: %v", dir, r, err)
			case st.IsDir():
				visit(p)
			default:
				listed[p] = true
			}
		}
	}
	visit(".")
	for _, f := range yamlFiles(t) {
		_, alone := standalone[f]
		switch {
		case listed[f] && alone:
			t.Errorf("%s is listed by a kustomization but meant to stand alone (%s)", f, standalone[f])
		case !listed[f] && !alone:
			t.Errorf("%s is in no kustomization reachable from deploy/k8s/kustomization.yaml", f)
		}
	}
	for dir := range m.kustomizations {
		if !listed[path.Join(dir, "kustomization.yaml")] {
			t.Errorf("%s/kustomization.yaml is not reachable from deploy/k8s/kustomization.yaml", dir)
		}
	}
}

// Where kubectl is installed, kustomize itself builds deploy/k8s and its
// base, and what it renders is what the files hold: the same objects, each
// decoding strictly.
func TestKustomizeBuild(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not found: TestKustomizations checks the kustomizations without it")
	}
	m := load(t)
	for _, tt := range []struct {
		dir   string
		under string // the objects expected: those of files under it, standalone ones aside
	}{{".", ""}, {"base", "base/"}} {
		t.Run(tt.dir, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, kubectl, "kustomize", tt.dir).Output()
			if err != nil {
				var exit *exec.ExitError
				if errors.As(err, &exit) {
					err = fmt.Errorf("%w: %s", err, exit.Stderr)
				}
				t.Fatalf("kubectl kustomize %s: %v", tt.dir, err)
			}
			var got, want []string
			for _, doc := range splitDocuments(out) {
				kind, name, _, err := decodeStrict(doc)
				if err != nil {
					t.Errorf("rendered %s: %v", tt.dir, err)
				}
				got = append(got, kind+"/"+name)
			}
			for _, o := range m.all {
				if _, alone := standalone[o.file]; !alone && strings.HasPrefix(o.file, tt.under) {
					want = append(want, o.kind+"/"+o.name)
				}
			}
			sort.Strings(got)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("kubectl kustomize %s renders %v; the files hold %v", tt.dir, got, want)
			}
		})
	}
}

// server returns the server's Deployment and its container.
func (m *manifests) server(t *testing.T) (*appsv1.Deployment, *corev1.Container) {
	t.Helper()
	d := m.find(t, "Deployment", serverName).(*appsv1.Deployment)
	for i := range d.Spec.Template.Spec.Containers {
		if c := &d.Spec.Template.Spec.Containers[i]; c.Name == serverName {
			return d, c
		}
	}
	t.Fatalf("Deployment %s has no container named %s", serverName, serverName)
	return nil, nil
}

// settingNames returns the environment variables the server's parser reads.
func settingNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	if _, err := app.ParseConfig(nil, func(k string) string { names[k] = true; return "" }, io.Discard); err != nil {
		t.Fatalf("ParseConfig with no settings: %v", err)
	}
	for _, n := range []string{"PORT", "MEMORIES_API_KEY", "REDIS_URL", "EXPECTED_REPLICAS", "SHUTDOWN_DELAY"} {
		if !names[n] {
			t.Fatalf("the server's parser does not read %s: is the recording of its names broken? read %v", n, names)
		}
	}
	return names
}

// environment returns the server container's environment as the kubelet
// would make it: the envFrom sources in order (a later one wins), then env.
// It fails where a source is not one of the manifests.
func (m *manifests) environment(t *testing.T) map[string]string {
	t.Helper()
	_, c := m.server(t)
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.Prefix != "" {
			t.Errorf("envFrom prefix %q: the server reads unprefixed names", from.Prefix)
		}
		switch {
		case from.ConfigMapRef != nil:
			for k, v := range m.find(t, "ConfigMap", from.ConfigMapRef.Name).(*corev1.ConfigMap).Data {
				env[k] = v
			}
		case from.SecretRef != nil:
			for k, v := range secretData(m.find(t, "Secret", from.SecretRef.Name).(*corev1.Secret)) {
				env[k] = v
			}
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
		}
	}
	return env
}

// secretData returns a Secret's data and stringData together, as the API
// server stores them.
func secretData(s *corev1.Secret) map[string]string {
	out := map[string]string{}
	for k, v := range s.Data {
		out[k] = string(v)
	}
	for k, v := range s.StringData {
		out[k] = v
	}
	return out
}

// config parses the server container's environment with the server's own
// parser.
func (m *manifests) config(t *testing.T) app.Config {
	t.Helper()
	env := m.environment(t)
	var out bytes.Buffer
	cfg, err := app.ParseConfig(nil, func(k string) string { return env[k] }, &out)
	if err != nil {
		t.Fatalf("the server refuses the manifests' settings: %v\n%s", err, out.String())
	}
	return cfg
}

// The ConfigMap and the Secret hold every setting the server reads, each
// once, nothing else, and values the server accepts; the container's env
// holds only the Go runtime's variables.
func TestSettings(t *testing.T) {
	m := load(t)
	known := settingNames(t)
	d, c := m.server(t)

	if n := len(c.EnvFrom); n != 2 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[1].SecretRef == nil {
		t.Fatalf("envFrom = %+v; want the ConfigMap, then the Secret (so that the Secret's value wins)", c.EnvFrom)
	}
	if o := c.EnvFrom[1].SecretRef.Optional; o != nil && *o {
		t.Errorf("the Secret is optional: a missing one should stop the pod, not run it without its key and tokens")
	}
	cm := m.find(t, "ConfigMap", c.EnvFrom[0].ConfigMapRef.Name).(*corev1.ConfigMap)
	secret := secretData(m.find(t, "Secret", c.EnvFrom[1].SecretRef.Name).(*corev1.Secret))

	where := map[string][]string{}
	for k := range cm.Data {
		where[k] = append(where[k], "ConfigMap")
	}
	if len(cm.BinaryData) > 0 {
		t.Errorf("ConfigMap has binaryData: the server reads text settings")
	}
	for k := range secret {
		where[k] = append(where[k], "Secret")
	}
	for k, in := range where {
		if !known[k] {
			t.Errorf("%s (in the %s) is not a setting the server reads", k, in[0])
		}
		if len(in) > 1 {
			t.Errorf("%s is in both the ConfigMap and the Secret: keep it in one place", k)
		}
	}
	var missing []string
	for k := range known {
		if len(where[k]) == 0 {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("settings the server reads that neither the ConfigMap nor the Secret holds (add them to base/configmap.yaml, empty for the default): %v", missing)
	}
	for _, k := range []string{"MEMORIES_API_KEY", "ACCESS_TOKENS"} {
		if _, ok := cm.Data[k]; ok {
			t.Errorf("%s is in the ConfigMap; it belongs in the Secret", k)
		}
		if _, ok := secret[k]; !ok {
			t.Errorf("the example Secret has no %s", k)
		}
	}
	for _, e := range c.Env {
		if known[e.Name] {
			t.Errorf("env %s: settings belong in the ConfigMap or the Secret, in one place", e.Name)
		} else if !runtimeVariables[e.Name] {
			t.Errorf("env %s is neither a setting nor a Go runtime variable", e.Name)
		}
	}
	if l := d.Spec.Template.Spec.EnableServiceLinks; l == nil || *l {
		t.Errorf("enableServiceLinks is not false: Kubernetes would add <SERVICE>_PORT=tcp://... variables to the environment the server reads")
	}

	cfg := m.config(t)
	if _, err := app.NewLogger(io.Discard, cfg.LogFormat, cfg.LogLevel); err != nil {
		t.Errorf("the server refuses the log settings: %v", err)
	}
	if cfg.BaseURL == "" {
		t.Errorf("MEMORIES_BASE_URL is empty: a Secret without MEMORIES_API_KEY would start the sandbox instead of pass-through")
	}
	if cfg.Host != "" && cfg.Host != "0.0.0.0" && cfg.Host != "::" {
		t.Errorf("HOST = %q: the kubelet's probes and the Service reach the pod's IP, not loopback", cfg.Host)
	}
	if p := containerPort(t, c, httpPort); int(p) != cfg.Port {
		t.Errorf("containerPort %s = %d; PORT = %d", httpPort, p, cfg.Port)
	}
	if cfg.RedisURL == "" {
		t.Errorf("REDIS_URL is empty: replicas without Redis each spend the account's whole rate limit")
	}
}

// The Secret in the repository holds placeholders, never a key.
func TestSecretIsAnExample(t *testing.T) {
	m := load(t)
	for _, o := range m.all {
		s, ok := o.obj.(*corev1.Secret)
		if !ok {
			continue
		}
		if o.file != "secret.example.yaml" {
			t.Errorf("%s: Secrets live in secret.example.yaml only", o)
		}
		if s.Type != corev1.SecretTypeOpaque {
			t.Errorf("%s: type %q; want Opaque", o, s.Type)
		}
		for k, v := range secretData(s) {
			if !strings.HasPrefix(v, "REPLACE_ME") {
				t.Errorf("%s: %s is not a REPLACE_ME placeholder: never commit a real value", o, k)
			}
		}
	}
}

// The server, wired with the manifests' settings, answers the probes'
// paths as they mean: /healthz and /readyz 200, /metrics Prometheus text;
// once draining, /readyz 503 while /healthz stays 200.
func TestServerAnswersProbePaths(t *testing.T) {
	m := load(t)
	_, c := m.server(t)
	env := m.environment(t)
	// Redis: a loopback port nobody listens on, so that nothing leaves the
	// machine; the server starts without Redis, as in a cluster where Redis
	// comes up later.
	u, err := url.Parse(env["REDIS_URL"])
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.Host = ln.Addr().String()
	ln.Close()
	env["REDIS_URL"] = u.String()
	cfg, err := app.ParseConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("app.New with the manifests' settings: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	get := func(p string) (int, string) {
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		return rec.Code, rec.Body.String()
	}
	probes := map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe}
	for name, p := range probes {
		if p == nil || p.HTTPGet == nil {
			t.Fatalf("%s probe is not an httpGet", name)
		}
		if code, body := get(p.HTTPGet.Path); code != http.StatusOK {
			t.Errorf("%s probe GET %s = %d %q; want 200", name, p.HTTPGet.Path, code, body)
		}
	}
	if code, body := get(scrapePath(t, m)); code != http.StatusOK || !strings.Contains(body, "# TYPE go_goroutines") {
		t.Errorf("GET /metrics = %d; want 200 with Prometheus text", code)
	}
	a.Drain()
	if code, _ := get(c.ReadinessProbe.HTTPGet.Path); code != http.StatusServiceUnavailable {
		t.Errorf("readiness probe while draining = %d; want 503", code)
	}
	if code, _ := get(c.LivenessProbe.HTTPGet.Path); code != http.StatusOK {
		t.Errorf("liveness probe while draining = %d; want 200 (a draining pod must not be restarted)", code)
	}
}

// containerPort returns the number of c's port named name.
func containerPort(t *testing.T, c *corev1.Container, name string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("container %s has no port named %s", c.Name, name)
	return 0
}

// resolvePort returns the number that port (a name or a number) means on c.
func resolvePort(t *testing.T, c *corev1.Container, port intstr.IntOrString) int32 {
	t.Helper()
	if port.Type == intstr.Int {
		return port.IntVal
	}
	return containerPort(t, c, port.StrVal)
}

// Startup and liveness probe /healthz (the process serves HTTP; it checks
// no dependency), readiness /readyz (503 while draining), all on the port
// the server listens on.
func TestProbes(t *testing.T) {
	m := load(t)
	_, c := m.server(t)
	cfg := m.config(t)
	for _, tt := range []struct {
		name string
		p    *corev1.Probe
		path string
	}{
		{"startupProbe", c.StartupProbe, "/healthz"},
		{"livenessProbe", c.LivenessProbe, "/healthz"},
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
	} {
		p := tt.p
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s: want an httpGet probe of %s", tt.name, tt.path)
			continue
		}
		if p.HTTPGet.Path != tt.path {
			t.Errorf("%s: path %s; want %s", tt.name, p.HTTPGet.Path, tt.path)
		}
		if got := resolvePort(t, c, p.HTTPGet.Port); int(got) != cfg.Port {
			t.Errorf("%s: port %d; the server listens on PORT %d", tt.name, got, cfg.Port)
		}
		if s := p.HTTPGet.Scheme; s != "" && s != corev1.URISchemeHTTP {
			t.Errorf("%s: scheme %s; the server speaks plain HTTP", tt.name, s)
		}
		if p.PeriodSeconds < 1 || p.FailureThreshold < 1 || p.TimeoutSeconds < 1 {
			t.Errorf("%s: periodSeconds, timeoutSeconds and failureThreshold must be set", tt.name)
		}
	}
	if c.ReadinessProbe != nil && c.LivenessProbe != nil && c.ReadinessProbe.PeriodSeconds > c.LivenessProbe.PeriodSeconds {
		t.Errorf("readiness is probed less often than liveness")
	}
}

// effectiveSecurity returns the container's security settings, the pod's
// where the container sets none.
func effectiveSecurity(pod *corev1.PodSecurityContext, c *corev1.Container) (nonRoot *bool, uid *int64, seccomp *corev1.SeccompProfile) {
	if pod != nil {
		nonRoot, uid, seccomp = pod.RunAsNonRoot, pod.RunAsUser, pod.SeccompProfile
	}
	if s := c.SecurityContext; s != nil {
		if s.RunAsNonRoot != nil {
			nonRoot = s.RunAsNonRoot
		}
		if s.RunAsUser != nil {
			uid = s.RunAsUser
		}
		if s.SeccompProfile != nil {
			seccomp = s.SeccompProfile
		}
	}
	return nonRoot, uid, seccomp
}

// Every container runs as non-root with a read-only root filesystem, no
// privilege escalation, no capabilities and the runtime's seccomp profile;
// the server as the image's user 65532; no pod mounts an API token.
func TestSecurityContexts(t *testing.T) {
	m := load(t)
	for _, o := range m.all {
		d, ok := o.obj.(*appsv1.Deployment)
		if !ok {
			continue
		}
		spec := d.Spec.Template.Spec
		if a := spec.AutomountServiceAccountToken; a == nil || *a {
			t.Errorf("%s: automountServiceAccountToken is not false", o)
		}
		if spec.HostNetwork || spec.HostPID || spec.HostIPC {
			t.Errorf("%s: shares a host namespace", o)
		}
		for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
			nonRoot, uid, seccomp := effectiveSecurity(spec.SecurityContext, &c)
			if nonRoot == nil || !*nonRoot {
				t.Errorf("%s container %s: runAsNonRoot is not true", o, c.Name)
			}
			switch {
			case uid == nil || *uid == 0:
				t.Errorf("%s container %s: runAsUser is not a non-root uid", o, c.Name)
			case c.Name == serverName && *uid != serverUID:
				t.Errorf("%s container %s: runAsUser %d; want the image's %d", o, c.Name, *uid, serverUID)
			}
			if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("%s container %s: seccompProfile is not RuntimeDefault", o, c.Name)
			}
			s := c.SecurityContext
			if s == nil {
				t.Errorf("%s container %s: no securityContext", o, c.Name)
				continue
			}
			if s.ReadOnlyRootFilesystem == nil || !*s.ReadOnlyRootFilesystem {
				t.Errorf("%s container %s: readOnlyRootFilesystem is not true", o, c.Name)
			}
			if s.AllowPrivilegeEscalation == nil || *s.AllowPrivilegeEscalation {
				t.Errorf("%s container %s: allowPrivilegeEscalation is not false", o, c.Name)
			}
			if s.Privileged != nil && *s.Privileged {
				t.Errorf("%s container %s: privileged", o, c.Name)
			}
			if s.Capabilities == nil || !slices.Contains(s.Capabilities.Drop, "ALL") || len(s.Capabilities.Add) > 0 {
				t.Errorf("%s container %s: capabilities must drop ALL and add none", o, c.Name)
			}
			if c.ImagePullPolicy == "" || c.Image == "" {
				t.Errorf("%s container %s: image and imagePullPolicy must be set", o, c.Name)
			}
		}
	}
}

// The rollout's and the drain's timings fit together: the preStop sleep
// outlasts the readiness probe's reaction time; SHUTDOWN_DELAY keeps
// /readyz failing long enough for the probe to see it before the listener
// closes; the grace period outlasts the preStop sleep and the whole drain,
// as the server bounds it.
func TestShutdownSizing(t *testing.T) {
	m := load(t)
	d, c := m.server(t)
	cfg := m.config(t)
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Fatalf("no lifecycle.preStop.sleep")
	}
	if c.Lifecycle.PreStop.Exec != nil || c.Lifecycle.PreStop.HTTPGet != nil {
		t.Errorf("preStop must be the sleep action alone: the image has no shell or sleep binary")
	}
	preStop := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	r := c.ReadinessProbe
	noticed := time.Duration(r.PeriodSeconds*r.FailureThreshold) * time.Second
	if preStop < noticed {
		t.Errorf("preStop sleep %v < readiness periodSeconds x failureThreshold %v", preStop, noticed)
	}
	if cfg.ShutdownDelay < noticed {
		t.Errorf("SHUTDOWN_DELAY %v < readiness periodSeconds x failureThreshold %v: the listener would close before the probe sees /readyz fail", cfg.ShutdownDelay, noticed)
	}
	grace := d.Spec.Template.Spec.TerminationGracePeriodSeconds
	if grace == nil {
		t.Fatalf("no terminationGracePeriodSeconds (the default 30s is shorter than the drain)")
	}
	g := time.Duration(*grace) * time.Second
	if preStop >= g {
		t.Errorf("preStop sleep %v >= terminationGracePeriodSeconds %v", preStop, g)
	}
	// After SIGTERM (server.go run, app.go Drain): readiness fails and
	// subscriptions end at once; the polls in flight finish (each bounded by
	// MEMORIES_CALL_TIMEOUT); SHUTDOWN_DELAY; the listener closes and the
	// requests in flight get REQUEST_TIMEOUT + 5s; then the app closes.
	drain := cfg.CallTimeout + cfg.ShutdownDelay + cfg.RequestTimeout + shutdownBeyondRequestTimeout +
		tracingShutdown + redisCommandsOnClose*cfg.RedisTimeout
	if need := preStop + drain; g < need {
		t.Errorf("terminationGracePeriodSeconds %v < preStop %v + longest drain %v = %v", g, preStop, drain, need)
	}
	t.Logf("preStop %v, longest drain %v, grace %v", preStop, drain, g)
}

// parseGoMemLimit reads a GOMEMLIMIT value as the Go runtime does: bytes,
// or a number with B, KiB, MiB, GiB or TiB.
func parseGoMemLimit(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("GOMEMLIMIT %q: want a positive number of bytes, with B, KiB, MiB, GiB or TiB", s)
	}
	return n * mult, nil
}

// Every container has CPU and memory requests and limits; the server's come
// from what was measured, and GOMEMLIMIT sits between that and the limit.
func TestResources(t *testing.T) {
	m := load(t)
	for _, o := range m.all {
		d, ok := o.obj.(*appsv1.Deployment)
		if !ok {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, okReq := c.Resources.Requests[r]
				lim, okLim := c.Resources.Limits[r]
				if !okReq || !okLim {
					t.Errorf("%s container %s: %s request and limit must both be set", o, c.Name, r)
					continue
				}
				if req.Cmp(lim) > 0 {
					t.Errorf("%s container %s: %s request %s above its limit %s", o, c.Name, r, req.String(), lim.String())
				}
			}
		}
	}

	_, c := m.server(t)
	cfg := m.config(t)
	req := c.Resources.Requests[corev1.ResourceMemory]
	lim := c.Resources.Limits[corev1.ResourceMemory]
	if req.Value() < int64(measuredPeakRSS) {
		t.Errorf("memory request %s is below the measured peak RSS of %.1f MiB", req.String(), measuredPeakRSS/(1<<20))
	}
	// The most the server is known to need at once: the load test's peak,
	// every idle subscription one account may hold on a replica, one
	// largest document being parsed, a full response cache.
	need := int64(measuredPeakRSS+float64(cfg.MaxSubscriptionsPerAccount)*measuredPerSubscription+measuredLargestDocument) + cfg.ResponseCacheBytes
	if lim.Value() < need {
		t.Errorf("memory limit %s is below the measured need of %d MiB (peak RSS + MAX_SUBSCRIPTIONS_PER_ACCOUNT %d x 58 KiB + 13.6 MiB + RESPONSE_CACHE_BYTES %d)", lim.String(), need>>20, cfg.MaxSubscriptionsPerAccount, cfg.ResponseCacheBytes)
	}
	var gomem string
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			gomem = e.Value
			if e.ValueFrom != nil {
				t.Errorf("GOMEMLIMIT from %v: the downward API gives the whole limit; want a fixed share of it", e.ValueFrom)
			}
		}
	}
	limit, err := parseGoMemLimit(gomem)
	if err != nil {
		t.Fatalf("server container: %v", err)
	}
	if ratio := float64(limit) / float64(lim.Value()); ratio < 0.80 || ratio > 0.90 {
		t.Errorf("GOMEMLIMIT %s is %.0f%% of the memory limit %s; want 80-90%%, leaving the rest to what the Go runtime does not count", gomem, 100*ratio, lim.String())
	}
	if limit < need {
		t.Errorf("GOMEMLIMIT %s is below the measured need of %d MiB: the garbage collector would run without pause", gomem, need>>20)
	}
	if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
		t.Errorf("no CPU request: the HPA's utilization target is a share of it")
	}
	t.Logf("memory request %s, limit %s, GOMEMLIMIT %s, measured need %d MiB", req.String(), lim.String(), gomem, need>>20)
}

// matches reports whether selector selects set.
func matches(t *testing.T, selector *metav1.LabelSelector, set map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		t.Fatalf("selector %v: %v", selector, err)
	}
	return !s.Empty() && s.Matches(labels.Set(set))
}

// The Deployment, its Service, PDB, HPA, spread constraint and
// ServiceMonitor select the server's pods and no others; Redis's Service and
// NetworkPolicy select Redis's pods and let the server's in.
func TestSelectors(t *testing.T) {
	m := load(t)
	d, c := m.server(t)
	pods := d.Spec.Template.Labels
	redis := m.find(t, "Deployment", redisName).(*appsv1.Deployment)
	redisPods := redis.Spec.Template.Labels
	for _, dep := range []*appsv1.Deployment{d, redis} {
		if !matches(t, dep.Spec.Selector, dep.Spec.Template.Labels) {
			t.Errorf("Deployment %s: selector does not select its own template", dep.Name)
		}
	}
	if matches(t, d.Spec.Selector, redisPods) || matches(t, redis.Spec.Selector, pods) {
		t.Errorf("the server's and Redis's selectors overlap")
	}

	svc := m.find(t, "Service", serverName).(*corev1.Service)
	sel := &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}
	if !matches(t, sel, pods) || matches(t, sel, redisPods) {
		t.Errorf("Service %s: selector %v must select the server's pods alone", svc.Name, svc.Spec.Selector)
	}
	var svcPort *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Name == httpPort {
			svcPort = &svc.Spec.Ports[i]
		}
	}
	if svcPort == nil {
		t.Fatalf("Service %s: no port named %s", svc.Name, httpPort)
	}
	if got, want := resolvePort(t, c, svcPort.TargetPort), containerPort(t, c, httpPort); got != want {
		t.Errorf("Service %s: targetPort %v is %d; the server listens on %d", svc.Name, svcPort.TargetPort.String(), got, want)
	}

	pdb := m.find(t, "PodDisruptionBudget", serverName).(*policyv1.PodDisruptionBudget)
	if !reflect.DeepEqual(pdb.Spec.Selector, d.Spec.Selector) {
		t.Errorf("PodDisruptionBudget selector %v; want the Deployment's %v", pdb.Spec.Selector, d.Spec.Selector)
	}
	hpa := m.find(t, "HorizontalPodAutoscaler", serverName).(*autoscalingv2.HorizontalPodAutoscaler)
	if ref := hpa.Spec.ScaleTargetRef; ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != d.Name {
		t.Errorf("HPA scales %v; want apps/v1 Deployment %s", ref, d.Name)
	}
	for _, tsc := range d.Spec.Template.Spec.TopologySpreadConstraints {
		if !matches(t, tsc.LabelSelector, pods) {
			t.Errorf("topologySpreadConstraint on %s does not select the server's pods", tsc.TopologyKey)
		}
	}
	sm := m.find(t, "ServiceMonitor", serverName).(*serviceMonitor)
	if !matches(t, &sm.Spec.Selector, svc.Labels) {
		t.Errorf("ServiceMonitor does not select Service %s", svc.Name)
	}
	if matches(t, &sm.Spec.Selector, m.find(t, "Service", redisName).(*corev1.Service).Labels) {
		t.Errorf("ServiceMonitor selects Redis's Service too")
	}

	rsvc := m.find(t, "Service", redisName).(*corev1.Service)
	rsel := &metav1.LabelSelector{MatchLabels: rsvc.Spec.Selector}
	if !matches(t, rsel, redisPods) || matches(t, rsel, pods) {
		t.Errorf("Service %s must select Redis's pods alone", rsvc.Name)
	}
	np := m.find(t, "NetworkPolicy", redisName).(*networkingv1.NetworkPolicy)
	if !matches(t, &np.Spec.PodSelector, redisPods) {
		t.Errorf("NetworkPolicy %s does not select Redis's pods", np.Name)
	}
	admitted := false
	for _, in := range np.Spec.Ingress {
		for _, from := range in.From {
			if from.PodSelector != nil && matches(t, from.PodSelector, pods) {
				admitted = true
			}
		}
	}
	if !admitted {
		t.Errorf("NetworkPolicy %s lets no server pod in", np.Name)
	}

	// The server's REDIS_URL names Redis's Service and port.
	u, err := url.Parse(m.config(t).RedisURL)
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	var rport string
	for _, p := range rsvc.Spec.Ports {
		rport = strconv.Itoa(int(p.Port))
	}
	if u.Hostname() != rsvc.Name || u.Port() != rport {
		t.Errorf("REDIS_URL points at %s; Redis's Service is %s:%s", u.Host, rsvc.Name, rport)
	}
}

// The replica counts agree: the Deployment starts at the HPA's minimum (at
// least two, so that one can drain while the other serves); the PDB lets one
// go at a time and keeps one; EXPECTED_REPLICAS is the most replicas that
// can run at once, the HPA's maximum plus the rollout's surge, so that a
// replica cut off from Redis never takes more than its share.
func TestReplicas(t *testing.T) {
	m := load(t)
	d, _ := m.server(t)
	cfg := m.config(t)
	hpa := m.find(t, "HorizontalPodAutoscaler", serverName).(*autoscalingv2.HorizontalPodAutoscaler)
	if hpa.Spec.MinReplicas == nil {
		t.Fatalf("HPA without minReplicas")
	}
	minR, maxR := *hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas
	if d.Spec.Replicas == nil || *d.Spec.Replicas != minR {
		t.Errorf("Deployment replicas %s; want the HPA's minReplicas %d", ptrString(d.Spec.Replicas), minR)
	}
	if minR < 2 || maxR < minR {
		t.Errorf("HPA replicas %d to %d; want at least 2, max at least min", minR, maxR)
	}
	ru := d.Spec.Strategy.RollingUpdate
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil || ru.MaxSurge == nil || ru.MaxUnavailable == nil {
		t.Fatalf("Deployment strategy must be RollingUpdate with maxSurge and maxUnavailable set")
	}
	surge, err := intstr.GetScaledValueFromIntOrPercent(ru.MaxSurge, int(maxR), true)
	if err != nil {
		t.Fatal(err)
	}
	if unavailable, _ := intstr.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, int(minR), false); unavailable != 0 {
		t.Errorf("rollout maxUnavailable %d: a rollout at minReplicas would leave fewer serving", unavailable)
	}
	if want := int(maxR) + surge; cfg.ExpectedReplicas != want {
		t.Errorf("EXPECTED_REPLICAS %d; want the HPA's maxReplicas %d + maxSurge %d = %d", cfg.ExpectedReplicas, maxR, surge, want)
	}
	if cfg.ExpectedReplicas < int(minR) {
		t.Errorf("EXPECTED_REPLICAS %d below the HPA's minReplicas %d", cfg.ExpectedReplicas, minR)
	}

	pdb := m.find(t, "PodDisruptionBudget", serverName).(*policyv1.PodDisruptionBudget)
	var down int
	switch s := pdb.Spec; {
	case s.MaxUnavailable != nil && s.MinAvailable == nil:
		down, _ = intstr.GetScaledValueFromIntOrPercent(s.MaxUnavailable, int(minR), true)
	case s.MinAvailable != nil && s.MaxUnavailable == nil:
		up, _ := intstr.GetScaledValueFromIntOrPercent(s.MinAvailable, int(minR), true)
		down = int(minR) - up
	default:
		t.Fatalf("PodDisruptionBudget must set one of minAvailable and maxUnavailable")
	}
	if down < 1 || int(minR)-down < 1 {
		t.Errorf("at minReplicas %d the PDB lets %d go: want at least one going (node drains) and one staying", minR, down)
	}
	var cpu bool
	for _, mt := range hpa.Spec.Metrics {
		if mt.Type == autoscalingv2.ResourceMetricSourceType && mt.Resource != nil && mt.Resource.Name == corev1.ResourceCPU &&
			mt.Resource.Target.AverageUtilization != nil {
			cpu = true
		}
	}
	if !cpu {
		t.Errorf("HPA has no CPU utilization target")
	}
}

// ptrString prints *p, or nil.
func ptrString[T any](p *T) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

// scrapePath returns the path of the pod's scrape annotations.
func scrapePath(t *testing.T, m *manifests) string {
	t.Helper()
	d, _ := m.server(t)
	return d.Spec.Template.Annotations["prometheus.io/path"]
}

// Prometheus finds each replica's /metrics: by the pod's annotations, or by
// the ServiceMonitor through the Service's port.
func TestScraping(t *testing.T) {
	m := load(t)
	d, c := m.server(t)
	a := d.Spec.Template.Annotations
	if a["prometheus.io/scrape"] != "true" {
		t.Errorf("pod annotation prometheus.io/scrape = %q; want \"true\"", a["prometheus.io/scrape"])
	}
	if want := strconv.Itoa(int(containerPort(t, c, httpPort))); a["prometheus.io/port"] != want {
		t.Errorf("pod annotation prometheus.io/port = %q; want %s", a["prometheus.io/port"], want)
	}
	if a["prometheus.io/path"] != "/metrics" {
		t.Errorf("pod annotation prometheus.io/path = %q; want /metrics", a["prometheus.io/path"])
	}
	sm := m.find(t, "ServiceMonitor", serverName).(*serviceMonitor)
	svc := m.find(t, "Service", serverName).(*corev1.Service)
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("ServiceMonitor has %d endpoints; want 1", len(sm.Spec.Endpoints))
	}
	ep := sm.Spec.Endpoints[0]
	if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port }) {
		t.Errorf("ServiceMonitor port %q is no port of Service %s", ep.Port, svc.Name)
	}
	if ep.Path != "/metrics" {
		t.Errorf("ServiceMonitor path %q; want /metrics", ep.Path)
	}
	for _, v := range []string{ep.Interval, ep.ScrapeTimeout} {
		if _, err := time.ParseDuration(v); err != nil {
			t.Errorf("ServiceMonitor duration %q: %v", v, err)
		}
	}
}
