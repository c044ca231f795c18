package kecsim

import (
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/reimage-dev/reimage/providers/huaweicloud/ecssim"
	"github.com/reimage-dev/reimage/providers/internal/simtest"
	"github.com/reimage-dev/reimage/providers/sim"
)

// The shared harness (providers/internal/simtest), under this package's names.
type (
	harness  = simtest.Harness
	response = simtest.Response
)

var vecTime = simtest.VecTime

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
	return simtest.New(t, []sim.NewFrontend{New, ecssim.New}, edit...)
}

func vals(kv ...string) url.Values { return simtest.Vals(kv...) }

func nopBody(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }
