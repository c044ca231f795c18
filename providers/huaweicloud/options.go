package huaweicloud

import (
	_ "embed"
	"fmt"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/internal/cloudid"
)

// planSchema is ECS's fragment of the plan schema: the project id, the key
// pair login, BYOL and isAutoPay.
//
//go:embed plan.schema.json
var planSchema []byte

// PlanCloud is what a plan may say only of Huawei Cloud providers and
// instances; Driver carries it.
var PlanCloud = plan.Cloud{
	Type:            Type,
	Short:           "Huawei",
	ProviderFields:  []string{providers.ProjectSetting},
	InstanceFields:  []string{"byol", "isAutoPay"},
	LoginForms:      []plan.LoginForm{{Field: "keyName", With: []string{"userId"}}},
	EndpointExample: "https://ecs.cn-north-4.myhuaweicloud.com",
	Decode:          decodeOptions,
	InstanceID:      cloudid.UUID,
	ImageID:         cloudid.UUID,
	Schema:          planSchema,
}

// Options are an ECS instance's options in a plan, which the client reads
// from ChangeRequest.Options.
type Options struct {
	// KeyName is the key pair to log in with; UserID optionally goes with it.
	KeyName, UserID string
	// BYOL: bring your own license for the image (metadata BYOL).
	BYOL bool
	// AutoPay: the server is prepaid (yearly/monthly) and the order a change
	// opens is paid at once (isAutoPay); without it the change waits for
	// payment and fails.
	AutoPay bool
}

var _ plan.Options = (*Options)(nil)

// Keys is the key pair the login names.
func (o *Options) Keys() []string {
	if o.KeyName == "" {
		return nil
	}
	return []string{o.KeyName}
}

// CheckImage has nothing to check: ECS sizes the system disk itself.
func (o *Options) CheckImage(string, int) string { return "" }

// SpecParts writes the fields in the places format version 1 gave them
// (with KEC's key ids and keepImageLogin, always empty here).
func (o *Options) SpecParts() (before, after string) {
	after = fmt.Sprintf("\x00keys=[]\x00keep=false\x00keyname=%s\x00user=%s", o.KeyName, o.UserID)
	if o.AutoPay {
		// Only when set, so that the specs of plans saved before it existed stay valid.
		after += "\x00autopay=true"
	}
	return fmt.Sprintf("byol=%t\x00", o.BYOL), after
}

// OptionsOf returns the ECS options of a change request; the zero Options
// when it has none.
func OptionsOf(opts plan.Options) *Options {
	if o, ok := opts.(*Options); ok && o != nil {
		return o
	}
	return &Options{}
}

func decodeOptions(f plan.OptionFields) plan.Options {
	o := &Options{}
	o.KeyName, _ = f.Login("keyName").Text()
	o.UserID, _ = f.Login("userId").Text()
	o.BYOL, _ = f.Field("byol").Bool()
	o.AutoPay, _ = f.Field("isAutoPay").Bool()
	return o
}
