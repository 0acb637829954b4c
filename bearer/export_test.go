package bearer

// CacheLen returns the number of validated tokens v caches (tests only).
func CacheLen(v *Validator) int {
	if v.cache == nil {
		return 0
	}
	return v.cache.len()
}
