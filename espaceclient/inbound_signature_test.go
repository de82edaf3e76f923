package espaceclient

import (
	"strings"
	"testing"
	"time"
)

func TestStandardWebhookSignature(t *testing.T) {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"test": 2432232314}`)
	now := time.Unix(1614265330, 0)
	// The Standard Webhooks specification's own test vector.
	const want = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	if got := SignStandardWebhook(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body); got != want {
		t.Fatalf("signature = %s, want %s", got, want)
	}
	cases := []struct {
		name   string
		id, ts string
		sigs   string
		body   []byte
		ok     bool
	}{
		{"valid", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", want, body, true},
		{"valid among several", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", "v1,AAAA " + want, body, true},
		{"other id", "msg_other", "1614265330", want, body, false},
		{"body changed", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", want, []byte(`{"test": 1}`), false},
		{"stale", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614264900", want, body, false},
		{"future", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614266000", want, body, false},
		{"bad timestamp", "msg_p5jXN8AQM9LWM0D4loKWxJek", "yesterday", want, body, false},
		{"missing id", "", "1614265330", want, body, false},
		{"v2 scheme ignored", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", strings.Replace(want, "v1,", "v2,", 1), body, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := VerifyStandardWebhook(secret, c.id, c.ts, c.sigs, c.body, now, 5*time.Minute)
			if (err == nil) != c.ok {
				t.Errorf("err = %v, want ok=%v", err, c.ok)
			}
		})
	}
}
