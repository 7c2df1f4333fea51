// Package document renders the PDF documents that insure sends to customers
// (quotation comparisons and policy schedules) and stores them on disk.
//
// # Rendering
//
// A [Renderer] turns plain data ([QuotationDoc], [PolicyScheduleDoc]) into PDF
// bytes with github.com/signintech/gopdf and the Go fonts
// (golang.org/x/image/font/gofont), which are embedded as subsets so the text
// is selectable and extractable. The caller loads the data; the renderer keeps
// nothing. The Go fonts have no rupee sign, so amounts are printed as
// "INR 8,50,000.00" by [FormatMoney], using Indian digit grouping. Amounts are
// int64 minor units (paise) throughout; no floating point touches money.
//
// Input is validated before anything is drawn: an invalid document yields an
// error wrapping [ErrInvalidDocument] that lists every problem found. Characters
// the fonts cannot show are printed as "?" rather than silently dropped.
//
// # Storage
//
// A [FileStore] keeps rendered documents under a directory as
// <dir>/<id[0:2]>/<id>.pdf, where id is a canonical lowercase UUID. Writes are
// atomic (temporary file, fsync, rename, fsync of the directory) and putting
// the same id again replaces the file. Ids in any other form are rejected with
// [ErrInvalidID], so no path can escape the directory.
package document
