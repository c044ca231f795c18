package sim_test

import (
	"net/url"
	"testing"

	_ "github.com/reimage-dev/reimage/providers/drivers" // registers the front-ends sim.New uses by default
	"github.com/reimage-dev/reimage/providers/huaweicloud/ecssim"
	"github.com/reimage-dev/reimage/providers/internal/simtest"
	"github.com/reimage-dev/reimage/providers/ksyun/kecsim"
	"github.com/reimage-dev/reimage/providers/sim"
)

// The shared harness (providers/internal/simtest), under this package's names.
type (
	harness  = simtest.Harness
	response = simtest.Response
)

const (
	testKAK, testKSK = simtest.KECAccessKey, simtest.KECSecretKey
	testHAK, testHSK = simtest.ECSAccessKey, simtest.ECSSecretKey
	testProject      = simtest.Project
	kecRunning       = simtest.KECRunning
	kecStopped       = simtest.KECStopped
	kecOther         = simtest.KECOther
	ecsRunning       = simtest.ECSRunning
	ecsStopped       = simtest.ECSStopped
	imgOld           = simtest.ImageOld
	imgNew           = simtest.KECImageNew
	imgECSNew        = simtest.ECSImageNew
	keyID            = simtest.KeyID
)

// newHarness serves both clouds' front-ends.
func newHarness(t *testing.T, edit ...func(*sim.Options)) *harness {
	t.Helper()
	return simtest.New(t, []sim.NewFrontend{kecsim.New, ecssim.New}, edit...)
}

func vals(kv ...string) url.Values { return simtest.Vals(kv...) }

// modify is a KEC ModifyInstanceImage of id with more parameters.
func modify(id string, kv ...string) url.Values {
	p := vals("Action", "ModifyInstanceImage", "InstanceId", id)
	for i := 0; i+1 < len(kv); i += 2 {
		p.Add(kv[i], kv[i+1])
	}
	return p
}

// changeOS is an ECS changeos body to image, with a key pair.
func changeOS(image, mode string) map[string]any {
	c := map[string]any{"keyname": "KeyPair-350b", "userid": "7e25b1da389f4697a79df3a0e5bd494e", "imageid": image}
	if mode != "" {
		c["mode"] = mode
	}
	return map[string]any{"os-change": c}
}
