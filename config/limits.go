package config

// Limits bound what one logged-in client may do (security review, item 9).
// They are per Kratos identity and per process: with several replicas behind
// a load balancer a client gets each rate and each concurrency cap once per
// replica; the storage quotas are counted in PostgreSQL, so they hold across
// replicas.
type Limits struct {
	// WritesPerMinute is the sustained rate of writes (new requests,
	// follow-ups, closes) one identity may make (default 20).
	WritesPerMinute int `yaml:"writes_per_minute"`
	// WritesBurst is how many writes may come at once before the rate applies
	// (default 10).
	WritesBurst int `yaml:"writes_burst"`
	// ConcurrentUploads is how many multipart posts (with files) one identity
	// may have in flight at once (default 2).
	ConcurrentUploads int `yaml:"concurrent_uploads"`
	// UploadsInFlight is how many multipart posts the whole process reads at
	// once, all identities together (default 16): a form is held in memory
	// while it is checked, so this bounds that memory at UploadsInFlight ×
	// the body cap (uploads.max_files × uploads.max_file_size + text),
	// however many clients upload at once.
	UploadsInFlight int `yaml:"uploads_in_flight"`
	// RequestQuota is the most bytes of files clients may store on one request
	// (default twice a full message: 2 × uploads.max_files × uploads.max_file_size, 50MiB).
	RequestQuota ByteSize `yaml:"request_quota"`
	// IdentityQuota is the most bytes of files one identity may store in all
	// (default ten full messages: 10 × uploads.max_files × uploads.max_file_size, 250MiB).
	IdentityQuota ByteSize `yaml:"identity_quota"`
}

// Defaults of Limits that do not depend on the upload limits.
const (
	DefaultWritesPerMinute   = 20
	DefaultWritesBurst       = 10
	DefaultConcurrentUploads = 2
	DefaultUploadsInFlight   = 16
)

// WithDefaults returns l with every unset (zero) limit at its default, for
// configurations built in code rather than parsed; u must be complete.
func (l Limits) WithDefaults(u Uploads) Limits {
	l.applyDefaults(u)
	return l
}

// applyDefaults fills Limits; u must have its own defaults already.
func (l *Limits) applyDefaults(u Uploads) {
	if l.WritesPerMinute == 0 {
		l.WritesPerMinute = DefaultWritesPerMinute
	}
	if l.WritesBurst == 0 {
		l.WritesBurst = DefaultWritesBurst
	}
	if l.ConcurrentUploads == 0 {
		l.ConcurrentUploads = DefaultConcurrentUploads
	}
	if l.UploadsInFlight == 0 {
		// Never below one identity's share (a configuration that raised only
		// concurrent_uploads keeps its meaning).
		l.UploadsInFlight = max(DefaultUploadsInFlight, l.ConcurrentUploads)
	}
	full := ByteSize(u.MaxFiles) * u.MaxFileSize
	if l.RequestQuota == 0 {
		l.RequestQuota = 2 * full
	}
	if l.IdentityQuota == 0 {
		l.IdentityQuota = 10 * full
	}
}

func (l Limits) validate(v *validator, path string, u Uploads) {
	if l.WritesPerMinute < 0 || l.WritesPerMinute > 6000 {
		v.errf(path+".writes_per_minute", "%d: expected between 1 and 6000 writes a minute", l.WritesPerMinute)
	}
	if l.WritesBurst < 0 || l.WritesBurst > 1000 {
		v.errf(path+".writes_burst", "%d: expected between 1 and 1000", l.WritesBurst)
	}
	if l.ConcurrentUploads < 0 || l.ConcurrentUploads > 100 {
		v.errf(path+".concurrent_uploads", "%d: expected between 1 and 100", l.ConcurrentUploads)
	}
	if l.UploadsInFlight < 0 || l.UploadsInFlight > 1000 {
		v.errf(path+".uploads_in_flight", "%d: expected between 1 and 1000 uploads read at once by the process", l.UploadsInFlight)
	} else if l.UploadsInFlight > 0 && l.ConcurrentUploads > l.UploadsInFlight {
		v.errf(path+".concurrent_uploads", "%d is more than limits.uploads_in_flight (%d): expected at most as many", l.ConcurrentUploads, l.UploadsInFlight)
	}
	if l.RequestQuota < u.MaxFileSize {
		v.errf(path+".request_quota", "%s is less than uploads.max_file_size (%s): expected at least one file's worth, such as %s", l.RequestQuota, u.MaxFileSize, 2*ByteSize(u.MaxFiles)*u.MaxFileSize)
	}
	if l.IdentityQuota < l.RequestQuota {
		v.errf(path+".identity_quota", "%s is less than limits.request_quota (%s): expected at least as much", l.IdentityQuota, l.RequestQuota)
	}
}
