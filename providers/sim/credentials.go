package sim

// Credentials returns the credentials the simulator accepts for provider (a
// provider type: Ksyun or HuaweiCloud); ok is false for a cloud it does not
// simulate. Callers need not know which Options field holds which cloud's.
func (o Options) Credentials(provider string) (accessKey, secretKey string, ok bool) {
	switch provider {
	case Ksyun:
		return o.KsyunAccessKey, o.KsyunSecretKey, true
	case HuaweiCloud:
		return o.HuaweiAccessKey, o.HuaweiSecretKey, true
	}
	return "", "", false
}

// SetCredentials sets the credentials the simulator accepts for provider (a
// provider type); it reports false for a cloud it does not simulate. Empty
// credentials are filled in by RandomCredentials.
func (o *Options) SetCredentials(provider, accessKey, secretKey string) bool {
	switch provider {
	case Ksyun:
		o.KsyunAccessKey, o.KsyunSecretKey = accessKey, secretKey
	case HuaweiCloud:
		o.HuaweiAccessKey, o.HuaweiSecretKey = accessKey, secretKey
	default:
		return false
	}
	return true
}
