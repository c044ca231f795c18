package sim

// Credentials returns the credentials the simulator accepts for provider (a
// provider type); ok is false when o holds none for it.
func (o Options) Credentials(provider string) (accessKey, secretKey string, ok bool) {
	k, ok := o.Keys[provider]
	return k.AccessKey, k.SecretKey, ok && k.AccessKey != "" && k.SecretKey != ""
}

// SetCredentials sets the credentials the simulator accepts for provider (a
// provider type). Empty credentials are filled in by New, derived from the
// seed, or by RandomCredentials.
func (o *Options) SetCredentials(provider, accessKey, secretKey string) {
	keys := make(map[string]Credential, len(o.Keys)+1)
	for t, k := range o.Keys {
		keys[t] = k
	}
	keys[provider] = Credential{AccessKey: accessKey, SecretKey: secretKey}
	o.Keys = keys
}
