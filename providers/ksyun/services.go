package ksyun

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/internal/apicall"
)

// The KEC family: besides KEC itself, reimage calls the tag service (markers,
// tags of listed instances) and SKS (key pairs, for pre-flight). Each has its
// own API version, SigV4 service name and regional host; the region appears
// only in the signature.
const (
	// TagVersion, TagService and DefaultTagEndpoint are the tag service's (tagv2).
	TagVersion         = "2020-09-01"
	TagService         = "tagv2"
	DefaultTagEndpoint = "https://tagv2.api.ksyun.com"
	// SKSVersion, SKSService and DefaultSKSEndpoint are the key service's.
	SKSVersion         = "2015-11-01"
	SKSService         = "sks"
	DefaultSKSEndpoint = "https://sks.api.ksyun.com"
)

// serviceOfVersion maps an API version to the SigV4 service that signs it:
// every call carries Version in its query, so prepare can tell the service
// from the request alone.
func serviceOfVersion(version string) string {
	switch version {
	case TagVersion:
		return TagService
	case SKSVersion:
		return SKSService
	}
	return Service
}

// serviceBases returns the base URLs of the tag service and SKS: with a plan
// endpoint, that one URL serves every service (the simulator, a gateway) and
// the Action/Version pair tells them apart; without, each has its own host.
func serviceBases(endpoint string, kec *url.URL) (tag, sks *url.URL, err error) {
	if endpoint != "" {
		return kec, kec, nil
	}
	if tag, err = providers.CheckEndpoint(DefaultTagEndpoint); err != nil {
		return nil, nil, err
	}
	if sks, err = providers.CheckEndpoint(DefaultSKSEndpoint); err != nil {
		return nil, nil, err
	}
	return tag, sks, nil
}

// serviceCall sends one action of a KEC-family service at base: a POST whose
// query holds only Action and Version and whose form body holds every
// parameter (the SDKs' form calls), or a GET with everything in the query.
func (c *Client) serviceCall(ctx context.Context, base *url.URL, version, method, action string, params url.Values, write bool, resource string, out any) error {
	params.Set("Action", action)
	params.Set("Version", version)
	u := *base
	u.Path = base.Path + "/"
	var body []byte
	if method == http.MethodGet {
		u.RawQuery = params.Encode()
	} else {
		u.RawQuery = url.Values{"Action": {action}, "Version": {version}}.Encode()
		body = []byte(params.Encode())
	}
	req := apicall.Request{
		Operation: action, Write: write, Resource: resource,
		Method: method, URL: u.String(), Body: body,
	}
	resp, err := c.caller.Do(ctx, req)
	if err != nil {
		return err
	}
	return c.caller.Decode(req, resp, out)
}

// SignService signs req as Sign does, for another KEC-family service (the
// simulator's tests sign tagv2 and sks requests with it).
func SignService(req *http.Request, body []byte, accessKey, secretKey, service, region string, t time.Time) error {
	return signService(req, body, accessKey, secretKey, service, region, t)
}
