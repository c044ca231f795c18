// Package huaweisdk is the compatibility suite of reimage's simulator with the official Huawei
// Cloud Go SDK (github.com/huaweicloud/huaweicloud-sdk-go-v3): the SDK's ECS client, pointed at
// a simulator on loopback, lists servers (and parses them), stops, changes and reinstalls the
// OS, reads jobs, and is refused with a wrong secret. It is a separate module so that the SDK
// never becomes a dependency of reimage; .ci/run runs it.
package huaweisdk
