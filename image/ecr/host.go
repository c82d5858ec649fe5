package ecr

import (
	"fmt"
	"regexp"
	"strings"
)

// Registry is a parsed ECR registry host such as
// 123456789012.dkr.ecr.us-east-1.amazonaws.com.
type Registry struct {
	// Account is the 12-digit AWS account ID that owns the registry.
	Account string
	// Region is the AWS region of the registry, for example "us-east-1".
	Region string
	// FIPS is true for hosts served by FIPS 140 endpoints (dkr.ecr-fips).
	FIPS bool
	// DualStack is true for the IPv4+IPv6 hosts (dkr-ecr.REGION.on.aws).
	DualStack bool
	// Suffix is the partition's DNS suffix, for example "amazonaws.com" or
	// "amazonaws.com.cn".
	Suffix string
}

// hostPattern follows the hosts AWS documents for private registries,
// including the dual-stack form and the isolated partitions.
var hostPattern = regexp.MustCompile(`^([0-9]{12})\.dkr([.-])ecr(-fips)?\.([a-z0-9][a-z0-9-]*)\.` +
	`(amazonaws\.com(?:\.cn)?|on\.aws|on\.amazonwebservices\.com\.cn|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$`)

// ParseHost reports whether host (without scheme or path; a port is not
// allowed) is an ECR private registry, and parses it.
func ParseHost(host string) (Registry, bool) {
	m := hostPattern.FindStringSubmatch(strings.ToLower(host))
	if m == nil {
		return Registry{}, false
	}
	dual := m[2] == "-"
	onAWS := strings.HasPrefix(m[5], "on.")
	if dual != onAWS {
		// dkr-ecr goes only with on.aws, dkr.ecr only with amazonaws.com.
		return Registry{}, false
	}
	return Registry{Account: m[1], Region: m[4], FIPS: m[3] != "", DualStack: dual, Suffix: m[5]}, true
}

// Host returns the registry host name.
func (r Registry) Host() string {
	sep := "."
	if r.DualStack {
		sep = "-"
	}
	fips := ""
	if r.FIPS {
		fips = "-fips"
	}
	suffix := r.Suffix
	if suffix == "" {
		suffix = partitionSuffix(r.Region)
	}
	return fmt.Sprintf("%s.dkr%secr%s.%s.%s", r.Account, sep, fips, r.Region, suffix)
}

// HostFor returns the IPv4 registry host of account in region, with the DNS
// suffix of the region's partition.
func HostFor(account, region string) string {
	return Registry{Account: account, Region: region}.Host()
}

// partitionSuffix returns the DNS suffix of the partition that holds region.
func partitionSuffix(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "amazonaws.com.cn"
	case strings.HasPrefix(region, "us-isob-"):
		return "sc2s.sgov.gov"
	case strings.HasPrefix(region, "us-isof-"):
		return "csp.hci.ic.gov"
	case strings.HasPrefix(region, "us-iso-"):
		return "c2s.ic.gov"
	case strings.HasPrefix(region, "eu-isoe-"):
		return "cloud.adc-e.uk"
	default:
		return "amazonaws.com"
	}
}
