package plan

import (
	"strings"
	"testing"
)

// TestIsAutoPayPrepaidHuaweiServers: isAutoPay marks a prepaid Huawei server (from the instance or
// its provider's defaults); a KEC instance is refused with its position.
func TestIsAutoPayPrepaidHuaweiServers(t *testing.T) {
	p, err := Parse("p.yaml", []byte(basePlan+`instances:
  - id: e0a4c9d2-7b1f-4e35-9a6c-2d8f0b3e5a01
    provider: ecs-n4
    image: e215580f-73ad-429d-b6f2-5433947433b0
    login: {keyName: kp, userId: 7e25b1da389f4697a79df3a0e5bd494e}
    isAutoPay: true
  - id: e0a4c9d2-7b1f-4e35-9a6c-2d8f0b3e5a02
    provider: ecs-n4
    image: e215580f-73ad-429d-b6f2-5433947433b0
    login: {keyName: kp, userId: 7e25b1da389f4697a79df3a0e5bd494e}
`))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := optionsJSON(p.Instances[0]), optionsJSON(p.Instances[1]); !strings.Contains(a, `"AutoPay":true`) || !strings.Contains(b, `"AutoPay":false`) {
		t.Errorf("options %s and %s, want AutoPay true and false", a, b)
	}
	_, err = Parse("p.yaml", []byte(basePlan+"instances:\n"+"  - id: 98284100-f6d1-4bbf-886a-1b0765024738\n    isAutoPay: true\n"))
	if err == nil || !strings.Contains(err.Error(), "instances[0].isAutoPay: only huaweicloud providers take isAutoPay") {
		t.Errorf("isAutoPay on KEC: %v", err)
	}
}
