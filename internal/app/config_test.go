package app

import (
	"io"
	"strings"
	"testing"
)

// REDIS_CLUSTER says whether REDIS_URL is a cluster's; it needs REDIS_URL,
// and no prefix may hold the braces of a hash tag.
func TestRedisClusterSettings(t *testing.T) {
	parse := func(env map[string]string) (Config, error) {
		return ParseConfig(nil, func(k string) string { return env[k] }, io.Discard)
	}
	for _, tt := range []struct {
		env     map[string]string
		cluster bool
	}{
		{map[string]string{}, false},
		{map[string]string{"REDIS_URL": "redis://h:6379/0"}, false},
		{map[string]string{"REDIS_URL": "redis://h1:7000,h2:7001", "REDIS_CLUSTER": "on"}, true},
		{map[string]string{"REDIS_URL": "redis://h1:7000?addr=h2:7001", "REDIS_CLUSTER": "true"}, true},
		{map[string]string{"REDIS_URL": "redis://h:6379/0", "REDIS_CLUSTER": "off"}, false},
	} {
		cfg, err := parse(tt.env)
		if err != nil || cfg.RedisCluster != tt.cluster {
			t.Errorf("%v: RedisCluster %v, err %v; want %v, nil", tt.env, cfg.RedisCluster, err, tt.cluster)
		}
	}
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"REDIS_CLUSTER": "on"}, "REDIS_CLUSTER=on needs REDIS_URL"},
		{map[string]string{"REDIS_URL": "redis://h:6379", "REDIS_CLUSTER": "sometimes"}, "REDIS_CLUSTER"},
		{map[string]string{"REDIS_URL": "redis://h:6379", "REDIS_KEY_PREFIX": "mgql{eu}"}, "REDIS_KEY_PREFIX must not contain { or }"},
	} {
		if _, err := parse(tt.env); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err %v; want one with %q", tt.env, err, tt.want)
		}
	}
}
