package drivers_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/schema"
)

// A third cloud, made up for the test and registered beside the real ones
// (before the schema is first assembled): its plan options reach plan,
// schema and saved plans with no change to them.
func init() { plan.RegisterCloud(thirdCloud) }

var thirdCloud = plan.Cloud{
	Type:            "testcloud",
	Short:           "Test",
	ProviderFields:  []string{"tenant"},
	InstanceFields:  []string{"rootVolume"},
	LoginForms:      []plan.LoginForm{{Field: "sshKey"}},
	EndpointExample: "https://api.test.example",
	Decode: func(f plan.OptionFields) plan.Options {
		o := &thirdOptions{}
		o.key, _ = f.Login("sshKey").Text()
		if v := f.Field("rootVolume"); v.Present() {
			v.Once("rootVolume", func() any { thirdDecodedOnce++; return nil })
			size, _ := v.Get("sizeGB").Int()
			if size > 100 {
				v.Get("sizeGB").Errorf("Test takes at most 100 GB, found %d", size)
			}
			o.sizeGB = size
		}
		return o
	},
	Schema: []byte(`{
  "type": "testcloud",
  "title": "Test Cloud",
  "short": "Test",
  "regionExample": "t-1",
  "endpointExample": "https://api.test.example",
  "credentialsEnv": "TEST_AK/TEST_SK",
  "loginSummary": "sshKey",
  "loginForms": ["sshKey"],
  "provider": {"tenant": {"type": "string", "minLength": 1, "x-expected": "a tenant id"}},
  "login": {"sshKey": {"type": "string", "minLength": 1, "x-expected": "a key name"}},
  "instance": {"rootVolume": {"type": "object", "unevaluatedProperties": false, "x-expected": "a mapping with sizeGB",
    "properties": {"sizeGB": {"type": "integer", "minimum": 1, "x-expected": "a whole number of GB"}}}}
}`),
}

// thirdDecodedOnce counts what Field.Once computed: once per plan load.
var thirdDecodedOnce int

type thirdOptions struct {
	key    string
	sizeGB int
}

func (o *thirdOptions) Keys() []string {
	if o.key == "" {
		return nil
	}
	return []string{o.key}
}

func (o *thirdOptions) CheckImage(image string, minDiskGB int) string {
	if o.sizeGB > 0 && minDiskGB > o.sizeGB {
		return fmt.Sprintf("rootVolume.sizeGB %d is smaller than target image %s needs (%d GB)", o.sizeGB, image, minDiskGB)
	}
	return ""
}

func (o *thirdOptions) SpecParts() (string, string) {
	return "", fmt.Sprintf("\x00key=%s\x00root=%d", o.key, o.sizeGB)
}

const thirdPlan = `version: 1
name: third
providers:
  kec: {type: ksyun, region: cn-beijing-6}
  t1: {type: testcloud, region: t-1, tenant: acme}
instances:
  - id: 98284100-f6d1-4bbf-886a-1b0765024731
    provider: t1
    image: 11111111-f6d1-4bbf-886a-1b0765024738
    login: {sshKey: deploy}
    rootVolume: {sizeGB: 40}
`

// TestThirdCloudNeedsNoChangeToTheCore: a cloud registered from outside plan
// and schema gets its provider setting, its decoded options, its login form,
// its schema fragment and its place in the words that list clouds.
func TestThirdCloudNeedsNoChangeToTheCore(t *testing.T) {
	thirdDecodedOnce = 0
	twice := thirdPlan + strings.Replace(thirdPlan[strings.Index(thirdPlan, "  - id:"):], "1b0765024731", "1b0765024732", 1)
	p, err := plan.Parse("third.yaml", []byte(twice))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Providers["t1"].Settings["tenant"]; got != "acme" {
		t.Errorf("tenant setting %q", got)
	}
	if len(p.Instances) != 2 {
		t.Fatalf("%d instances, want 2", len(p.Instances))
	}
	if thirdDecodedOnce != 1 {
		t.Errorf("Field.Once computed %d times for one load", thirdDecodedOnce)
	}
	o, ok := p.Instances[0].Options.(*thirdOptions)
	if !ok || o.key != "deploy" || o.sizeGB != 40 {
		t.Fatalf("options %#v", p.Instances[0].Options)
	}
	if keys := p.Instances[0].Options.Keys(); len(keys) != 1 || keys[0] != "deploy" {
		t.Errorf("keys %v", keys)
	}
	before := plan.Spec(p.Instances[0])
	o.sizeGB = 80
	if plan.Spec(p.Instances[0]) == before {
		t.Error("the spec does not bind the third cloud's options")
	}

	var doc map[string]any
	if err := json.Unmarshal(schema.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	defs := doc["$defs"].(map[string]any)
	if _, ok := defs["field-rootVolume"]; !ok {
		t.Error("no $defs/field-rootVolume in the assembled schema")
	}
	enum := defs["provider"].(map[string]any)["properties"].(map[string]any)["type"].(map[string]any)["enum"].([]any)
	if fmt.Sprint(enum) != "[ksyun huaweicloud testcloud]" {
		t.Errorf("type enum %v", enum)
	}
}

// TestThirdCloudErrorsAtTheirPositions: each wrong use of a cloud's options
// is one error at its line and column, in the words the real clouds' get.
func TestThirdCloudErrorsAtTheirPositions(t *testing.T) {
	for _, tc := range []struct{ name, edit, want string }{
		{"its field on another cloud", "    provider: kec\n    login: {keyIds: [22222222-f6d1-4bbf-886a-1b0765024738]}\n    rootVolume: {sizeGB: 40}\n",
			"third.yaml:11:5: instances[0].rootVolume: only testcloud providers take rootVolume; provider \"kec\" is ksyun"},
		{"another cloud's field on it", "    provider: t1\n    login: {sshKey: deploy}\n    userData: {base64: aGk=}\n",
			"third.yaml:11:5: instances[0].userData: only ksyun providers take userData; provider \"t1\" is testcloud"},
		{"another cloud's login on it", "    provider: t1\n    login: {keyName: kp}\n",
			"third.yaml:10:13: instances[0].login.keyName: only huaweicloud providers take keyName; provider \"t1\" is testcloud (use sshKey or password)"},
		{"its decoding", "    provider: t1\n    login: {sshKey: deploy}\n    rootVolume: {sizeGB: 200}\n",
			"third.yaml:11:26: instances[0].rootVolume.sizeGB: Test takes at most 100 GB, found 200"},
		{"no login form", "    provider: t1\n    login: {}\n",
			"third.yaml:10:12: instances[0].login: no login form: set one of password, keyIds, keepImageLogin: true (KEC), keyName (Huawei) or sshKey (Test)"},
		{"its provider setting missing", "    provider: t1\n    login: {sshKey: deploy}\n",
			"third.yaml:5:7: providers.t1: missing required field \"tenant\" (testcloud providers need it)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := thirdPlan[:strings.Index(thirdPlan, "    provider: t1\n")] + "    image: 11111111-f6d1-4bbf-886a-1b0765024738\n" + tc.edit
			if strings.Contains(tc.name, "setting missing") {
				src = strings.Replace(src, ", tenant: acme", "", 1)
			}
			_, err := plan.Parse("third.yaml", []byte(src))
			if err == nil || err.Error() != tc.want {
				t.Errorf("error:\n%v\nwant:\n%s", err, tc.want)
			}
		})
	}
}
