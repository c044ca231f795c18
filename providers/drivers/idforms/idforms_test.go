// Package idforms_test registers, beside the real drivers, a made-up cloud
// whose instance ids have a form of their own (an EC2-like i-0abc…), and
// shows plan and schema taking each cloud's ids in its own form. It is a test
// binary of its own: a registered cloud joins every message that lists the
// clouds, which other packages' tests compare.
package idforms_test

import (
	"strings"
	"testing"

	"github.com/reimage-dev/reimage/plan"
	_ "github.com/reimage-dev/reimage/providers/drivers"
)

func init() { plan.RegisterCloud(idCloud) }

var idCloud = plan.Cloud{
	Type:   "ec2like",
	Short:  "EC2",
	Decode: func(plan.OptionFields) plan.Options { return noOptions{} },
	InstanceID: plan.IDSyntax{
		Pattern:   "^i-[0-9a-f]{8}([0-9a-f]{9})?$",
		Noun:      "i- and 8 or 17 hex digits",
		Example:   "i-0abc12345def67890",
		Normalise: strings.ToLower,
	},
	ImageID: plan.IDSyntax{
		Pattern:   "^ami-[0-9a-f]{8}([0-9a-f]{9})?$",
		Noun:      "ami- and 8 or 17 hex digits",
		Example:   "ami-0abc12345def67890",
		Normalise: strings.ToLower,
	},
	Schema: []byte(`{"type": "ec2like", "title": "EC2-like Compute", "short": "EC2", "regionExample": "us-east-1",
		"endpointExample": "https://ec2.us-east-1.example", "credentialsEnv": "EC2_AK/EC2_SK", "loginSummary": "password"}`),
}

type noOptions struct{}

func (noOptions) Keys() []string                { return nil }
func (noOptions) CheckImage(string, int) string { return "" }
func (noOptions) SpecParts() (string, string)   { return "", "" }

const head = `version: 1
name: ids
providers:
  kec: {type: ksyun, region: cn-beijing-6, defaults: {image: 8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2}}
  aws1: {type: ec2like, region: us-east-1, defaults: {image: ami-0abc1234}}
defaults:
  # each provider's image is in its defaults
  login: {password: {env: PW}}
instances:
`

// Each cloud's instance and image ids in the forms its driver declares: an id of another
// cloud's form is one error at its position naming the form it must have; an
// id of no cloud's form is the schema's one error listing the forms; each
// cloud's normalisation makes an id canonical before it is compared.
func TestInstanceIDsTakeTheFormOfTheirCloud(t *testing.T) {
	for _, tc := range []struct {
		name, entry string
		wantID      string // the decoded id, when the plan is valid
		wantImage   string // and its image, when not the provider's default
		wantErr     string
	}{
		{name: "KEC id", entry: "  - {id: 98284100-f6d1-4bbf-886a-1b0765024738, provider: kec}\n",
			wantID: "98284100-f6d1-4bbf-886a-1b0765024738"},
		{name: "KEC id upper-case", entry: "  - {id: 98284100-F6D1-4BBF-886A-1B0765024738, provider: kec}\n",
			wantID: "98284100-f6d1-4bbf-886a-1b0765024738"},
		{name: "EC2 id", entry: "  - {id: i-0abc12345def67890, provider: aws1}\n",
			wantID: "i-0abc12345def67890"},
		{name: "EC2 id upper-case", entry: "  - {id: I-0ABC1234, provider: aws1}\n",
			wantID: "i-0abc1234"},
		{name: "EC2 id on KEC", entry: "  - {id: i-0abc12345def67890, provider: kec}\n",
			wantErr: `ids.yaml:10:10: instances[0].id: must be a UUID like 98284100-f6d1-4bbf-886a-1b0765024738 (provider "kec" is ksyun), found "i-0abc12345def67890"`},
		{name: "KEC id on EC2", entry: "  - id: 98284100-f6d1-4bbf-886a-1b0765024738\n    provider: aws1\n",
			wantErr: `ids.yaml:10:9: instances[0].id: must be i- and 8 or 17 hex digits like i-0abc12345def67890 (provider "aws1" is ec2like), found "98284100-f6d1-4bbf-886a-1b0765024738"`},
		{name: "EC2 id on KEC by default", entry: "  - {id: i-0abc12345def67890}\n",
			wantErr: `ids.yaml:10:10: instances[0].id: must be a UUID like 98284100-f6d1-4bbf-886a-1b0765024738 (provider "kec" is ksyun), found "i-0abc12345def67890"`},
		{name: "EC2 image upper-case", entry: "  - {id: i-0abc1234, provider: aws1, image: AMI-0ABC1234}\n",
			wantID: "i-0abc1234", wantImage: "ami-0abc1234"},
		{name: "KEC image upper-case", entry: "  - {id: 98284100-f6d1-4bbf-886a-1b0765024738, provider: kec, image: 8F12AD9E-AE9A-44B9-95F3-C4E65CE582E2}\n",
			wantID: "98284100-f6d1-4bbf-886a-1b0765024738", wantImage: "8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2"},
		{name: "KEC image on EC2", entry: "  - {id: i-0abc1234, provider: aws1, image: 8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2}\n",
			wantErr: `ids.yaml:10:45: instances[0].image: must be an image id (ami- and 8 or 17 hex digits like ami-0abc12345def67890) or {name: IMAGE NAME} (provider "aws1" is ec2like), found "8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2"`},
		{name: "EC2 default image on KEC, once", entry: "  - {id: 98284100-f6d1-4bbf-886a-1b0765024738, provider: kec}\n  - {id: 98284100-f6d1-4bbf-886a-1b0765024739, provider: kec}\n",
			wantErr: `ids.yaml:4:62: providers.kec.defaults.image: must be an image id (a UUID like 98284100-f6d1-4bbf-886a-1b0765024738) or {name: IMAGE NAME} (provider "kec" is ksyun), found "ami-0abc1234"`},
		{name: "no cloud's form", entry: "  - {id: web, provider: aws1}\n",
			wantErr: `ids.yaml:10:10: instances[0].id: must be an instance id: a UUID like 98284100-f6d1-4bbf-886a-1b0765024738 (ksyun, huaweicloud) or i- and 8 or 17 hex digits like i-0abc12345def67890 (ec2like), found "web"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := head + tc.entry
			if strings.Contains(tc.name, "default image") {
				src = strings.Replace(src, "defaults: {image: 8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2}", "defaults: {image: ami-0abc1234}", 1)
			}
			if strings.Contains(tc.name, "by default") {
				src = strings.Replace(src, "defaults:\n", "defaults:\n  provider: kec\n", 1)
				tc.wantErr = strings.Replace(tc.wantErr, ":10:", ":11:", 1)
			}
			p, err := plan.Parse("ids.yaml", []byte(src))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error:\n%v\nwant:\n%s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Instances[0].ID; got != tc.wantID {
				t.Errorf("id %q, want %q", got, tc.wantID)
			}
			if got := p.Instances[0].Image; tc.wantImage != "" && got != tc.wantImage {
				t.Errorf("image %q, want %q", got, tc.wantImage)
			}
		})
	}
}
