package redmine

// IssueID, JournalID and AttachmentID are Redmine's ids of an issue, of one
// of its journals (an update, a note) and of an attachment. They are ints as
// Redmine sends them (JSON numbers, integer database columns); the names let
// the compiler refuse a journal id where an issue id is expected.
type (
	// IssueID is a Redmine issue's id (#123).
	IssueID int
	// JournalID is the id of one journal of an issue.
	JournalID int
	// AttachmentID is a Redmine attachment's id.
	AttachmentID int
)
