package entra

import "errors"

// CheckScopes checks a scope list before it is requested, for cloud (the
// zero Cloud means Public): scopes of two resources in one request
// (CodeMultipleResources: Entra issues a token for one of them only, or
// answers AADSTS28000), a scope naming another cloud's Graph
// (CodeWrongCloud), and malformed scopes (CodeInvalidScope). It returns
// nil when the list is fine. Safe for concurrent use.
func CheckScopes(cloud Cloud, scopes ...string) []Finding {
	if cloud.IsZero() {
		cloud = Public
	}
	_, _, err := oneResource(cloud, scopes, false)
	var e *Error
	if !errors.As(err, &e) {
		return nil
	}
	code := CodeInvalidScope
	switch {
	case errors.Is(err, ErrMultipleResources):
		code = CodeMultipleResources
	case errors.Is(err, ErrWrongCloud):
		code = CodeWrongCloud
	}
	return []Finding{{Code: code, Severity: SeverityError, Message: e.Description, Fix: e.Hint}}
}
