// Package bench compares entra's token cache with MSAL Go, azidentity and
// golang.org/x/oauth2, all talking HTTPS to one entratest emulator. It is a
// separate module so that the entra module never depends on azidentity.
// Everything is in the tests; see README.md for how to run them.
package bench
