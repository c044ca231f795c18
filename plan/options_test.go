package plan

import "encoding/json"

// optionsJSON shows an instance's cloud options for a test to compare
// without importing the driver that decoded them.
func optionsJSON(in *Instance) string {
	b, err := json.Marshal(in.Options)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// testOptions are a cloud's options that a test makes up.
type testOptions struct {
	before, after string
	keys          []string
}

func (o testOptions) Keys() []string                { return o.keys }
func (o testOptions) CheckImage(string, int) string { return "" }
func (o testOptions) SpecParts() (string, string)   { return o.before, o.after }
