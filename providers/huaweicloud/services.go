package huaweicloud

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/internal/apicall"
)

// serviceEndpoint returns the endpoint of one Huawei service in region: the
// official SDK's override HUAWEICLOUD_SDK_REGION_<SERVICE>_<REGION> when set,
// else https://<host>.<region>.myhuaweicloud.com. ECS is "ecs"; the image
// service (IMS) "ims"; key pairs (KPS) are served by the "kms" host, as the
// SDK's region table for KPS says.
func serviceEndpoint(service, host, region string) string {
	env := "HUAWEICLOUD_SDK_REGION_" + service + "_" + strings.ToUpper(strings.ReplaceAll(region, "-", "_"))
	if v := splitEndpoints(os.Getenv(env)); len(v) > 0 {
		return v[0] // the services other than ECS use the first of a list
	}
	return "https://" + host + "." + region + ".myhuaweicloud.com"
}

// serviceBases returns the base URLs of IMS and KPS: with a plan endpoint,
// that one URL serves every service (the simulator, a gateway) and the path
// tells them apart; without, each has its own regional host.
func serviceBases(endpoint, region string, ecs *url.URL) (ims, kps *url.URL, err error) {
	if endpoint != "" {
		return ecs, ecs, nil
	}
	if ims, err = providers.CheckEndpoint(serviceEndpoint("IMS", "ims", region)); err != nil {
		return nil, nil, err
	}
	if kps, err = providers.CheckEndpoint(serviceEndpoint("KPS", "kms", region)); err != nil {
		return nil, nil, err
	}
	return ims, kps, nil
}

// serviceCall sends one request to path (from the API's version on) at base;
// in is marshalled as the JSON body when not nil, and the answer is
// unmarshalled into out.
func (c *Client) serviceCall(ctx context.Context, base *url.URL, op, method, path string, query url.Values, in any, write bool, resource string, out any) error {
	u := *base
	u.Path = base.Path + path
	u.RawQuery = query.Encode()
	var body []byte
	if in != nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(in); err != nil {
			return fmt.Errorf("huaweicloud %s: %s %s: %w", c.name, op, resource, err)
		}
		body = bytes.TrimRight(buf.Bytes(), "\n")
	}
	req := apicall.Request{Operation: op, Write: write, Resource: resource, Method: method, URL: u.String(), Body: body}
	resp, err := c.caller.Do(ctx, req)
	if err != nil {
		return err
	}
	return c.caller.Decode(req, resp, out)
}
