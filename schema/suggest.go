package schema

// Suggest returns the candidate closest to name when it is close enough to be a likely typo
// ("imgae" for "image"), or "" when none is.
func Suggest(name string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := distance(name, c)
		// Allow about one edit per three letters, at least one and at most three.
		limit := min(max(len(c)/3, 1), 3)
		if d <= limit && (bestDist < 0 || d < bestDist) {
			best, bestDist = c, d
		}
	}
	return best
}

// distance is the optimal string alignment distance: Levenshtein plus transpositions of
// neighbours, the commonest typo.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		// Long strings are never typos of field names; skip the quadratic work.
		if a == b {
			return 0
		}
		return 1 << 30
	}
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range rb {
		d[0][j+1] = j + 1
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
