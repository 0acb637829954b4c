package bench

import "errors"

// errEmptyToken reports a library that returned no error and no token.
var errEmptyToken = errors.New("bench: empty access token")
