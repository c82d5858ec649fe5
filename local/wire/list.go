package wire

import (
	"slices"
	"strconv"
	"strings"
)

// ListInput is what SageMaker's List* operations share.
type ListInput struct {
	NextToken              string
	MaxResults             int
	SortBy                 string
	SortOrder              string
	NameContains           string
	StatusEquals           string
	CreationTimeAfter      *Time
	CreationTimeBefore     *Time
	LastModifiedTimeAfter  *Time
	LastModifiedTimeBefore *Time
}

// Listed is what List needs of a record.
type Listed struct {
	Name     string
	Status   string
	Created  *Time
	Modified *Time
}

// List filters, sorts (by CreationTime, descending, unless the input says
// otherwise) and pages items as SageMaker does. NextToken is an offset.
func List[T any](items []T, in ListInput, key func(T) Listed) ([]T, string, *Error) {
	var out []T
	for _, it := range items {
		k := key(it)
		if in.NameContains != "" && !strings.Contains(strings.ToLower(k.Name), strings.ToLower(in.NameContains)) {
			continue
		}
		if in.StatusEquals != "" && k.Status != in.StatusEquals {
			continue
		}
		if !within(k.Created, in.CreationTimeAfter, in.CreationTimeBefore) || !within(k.Modified, in.LastModifiedTimeAfter, in.LastModifiedTimeBefore) {
			continue
		}
		out = append(out, it)
	}
	slices.SortStableFunc(out, func(a, b T) int {
		ka, kb := key(a), key(b)
		var c int
		switch in.SortBy {
		case "Name":
			c = strings.Compare(ka.Name, kb.Name)
		case "Status":
			c = strings.Compare(ka.Status, kb.Status)
		default:
			c = ka.Created.Compare(kb.Created.Time)
		}
		if in.SortOrder != "Ascending" {
			c = -c
		}
		return c
	})
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(in.NextToken)
		if err != nil || n < 0 || n > len(out) {
			return nil, "", Validation("Invalid pagination token %q", in.NextToken)
		}
		start = n
	}
	limit := in.MaxResults
	if limit <= 0 {
		limit = 10
	}
	end := min(start+limit, len(out))
	next := ""
	if end < len(out) {
		next = strconv.Itoa(end)
	}
	return out[start:end], next, nil
}

func within(t, after, before *Time) bool {
	if t == nil {
		return after == nil && before == nil
	}
	if after != nil && !t.After(after.Time) {
		return false
	}
	if before != nil && !t.Before(before.Time) {
		return false
	}
	return true
}
