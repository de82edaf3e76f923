package espaceclient

import (
	"context"
	"errors"
	"strings"

	"passerelle/config"
)

// Categories returns the categories id's role may use, in configuration order.
func (s *Service) Categories(id Identity) ([]config.Category, error) {
	if err := checkRole(id); err != nil {
		return nil, err
	}
	out := []config.Category{}
	for _, c := range s.cfg.Get().Categories {
		if c.Allows(id.Role) {
			out = append(out, c)
		}
	}
	return out, nil
}

// GetRequest returns a request the caller may read (its own, or for an owner
// one filed on the owner's lots in a category shared with owners) with its thread; attachments carry their
// download URL, not their bytes. Anything else answers 404.
func (s *Service) GetRequest(ctx context.Context, id Identity, requestID string) (Request, error) {
	cfg := s.cfg.Get()
	if err := checkRole(id); err != nil {
		return Request{}, err
	}
	req, err := s.store.GetRequestThread(ctx, requestID, false)
	if errors.Is(err, ErrNotFound) || (err == nil && accessOf(cfg, id, req) == accessNone) {
		return Request{}, errRequestNotFound
	}
	if err != nil {
		return Request{}, s.storeError(err)
	}
	s.decorate(cfg, &req)
	return req, nil
}

// ListRequests returns the caller's requests, and for an owner those filed on
// the owner's lots in the categories shared with owners, newest first,
// without threads. status is "" or one of the four client statuses.
func (s *Service) ListRequests(ctx context.Context, id Identity, status string) ([]Request, error) {
	cfg := s.cfg.Get()
	if err := checkRole(id); err != nil {
		return nil, err
	}
	cs := config.ClientStatus(strings.TrimSpace(status))
	switch cs {
	case "", config.StatusNew, config.StatusInProgress, config.StatusWaitingClient, config.StatusClosed:
	default:
		return nil, invalid("invalid_value", "status",
			"« %s » n'est pas un statut : choisissez new, in_progress, waiting_client ou closed.", truncateRunes(status, 40))
	}
	sc := ListScope{IdentityID: id.ID, Status: cs}
	if id.Role == config.RoleOwner {
		sc.Lots = id.Lots
		sc.SharedCategories = sharedCategories(cfg)
	}
	reqs, err := s.store.ListRequests(ctx, sc)
	if err != nil {
		return nil, s.storeError(err)
	}
	for i := range reqs {
		s.decorate(cfg, &reqs[i])
	}
	return reqs, nil
}

// GetAttachment returns one attachment, with its bytes, of a request the
// caller may read. Anything else (another client's request, an attachment of
// another request, a malformed id) answers 404.
func (s *Service) GetAttachment(ctx context.Context, id Identity, requestID, attachmentID string) (Attachment, error) {
	cfg := s.cfg.Get()
	if err := checkRole(id); err != nil {
		return Attachment{}, err
	}
	req, err := s.store.GetRequest(ctx, requestID)
	if errors.Is(err, ErrNotFound) || (err == nil && accessOf(cfg, id, req) == accessNone) {
		return Attachment{}, errAttachmentNotFound
	}
	if err != nil {
		return Attachment{}, s.storeError(err)
	}
	a, err := s.store.GetAttachment(ctx, req.ID, attachmentID)
	if errors.Is(err, ErrNotFound) {
		return Attachment{}, errAttachmentNotFound
	}
	if err != nil {
		return Attachment{}, s.storeError(err)
	}
	a.URL = AttachmentURL(req.ID, a.ID)
	return a, nil
}

// AttachmentURL is the API path of an attachment's download.
func AttachmentURL(requestID, attachmentID string) string {
	return "/api/v1/requests/" + requestID + "/attachments/" + attachmentID
}
