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

// ClientAuth is how a confidential client built per call (a web app's, one
// per signed-in account) proves its identity: a secret or assertions.
type ClientAuth struct {
	cred confidential.Credential
}

// SecretAuth is ClientAuth with a client secret.
func SecretAuth(secret string) (ClientAuth, error) {
	cred, err := confidential.NewCredFromSecret(secret)
	if err != nil {
		return ClientAuth{}, err
	}
	return ClientAuth{cred: cred}, nil
}
