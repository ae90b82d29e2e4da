package commands

// InvoiceWriter acts on invoices (agent writes).
type InvoiceWriter interface{}
