package flows

import "github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

// NewSecret returns an App authenticating with a client secret. The secret
// is held by MSAL and sent only in the token request body.
func NewSecret(cfg Config, secret string) (*App, error) {
	cred, err := confidential.NewCredFromSecret(secret)
	if err != nil {
		return nil, err
	}
	return newApp(cfg, cred, false)
}
