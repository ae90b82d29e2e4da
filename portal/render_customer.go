package portal

import (
	"strconv"
	"strings"

	"github.com/stripe/stripe-go/v76"
)

func (r *renderer) renderCustomer() error {
	cus, err := decodeObject[stripe.Customer](r.evt, "customer")
	if err != nil {
		return err
	}
	m := &r.msg
	r.objectID = cus.ID
	who := customerLabel(cus)

	switch r.evt.Type {
	case "customer.created":
		m.lead("👤", "Customer created")
		m.text(": " + who)
	case "customer.updated":
		m.lead("👤", "Customer updated")
		m.text(": " + who)
		if changes := customerChanges(r.evt, cus); len(changes) > 0 {
			m.line()
			m.text(strings.Join(changes, "; ") + ".")
		}
	case "customer.deleted":
		m.lead("🗑️", "Customer deleted")
		m.text(": " + who)
		m.sentence("Stripe no longer bills this customer; this room stays as a record.")
	}
	if r.evt.Type != "customer.deleted" {
		r.links("Dashboard", r.dashboard("customers", cus.ID))
	}
	return nil
}

// customerLabel is "Name <email>", or whichever of the two exists, or the id.
func customerLabel(cus *stripe.Customer) string {
	name, email := clean(cus.Name), clean(cus.Email)
	switch {
	case name != "" && email != "":
		return name + " <" + email + ">"
	case name != "":
		return name
	case email != "":
		return email
	case cus.ID != "":
		return clean(cus.ID)
	}
	return "unnamed customer"
}

func customerChanges(evt *stripe.Event, cus *stripe.Customer) []string {
	var changes []string
	handled := map[string]bool{}
	fromTo := func(key, label, now string) {
		if old, ok := previous[string](evt, key); ok {
			handled[key] = true
			changes = append(changes, label+" changed from "+quoteOrNone(*old)+" to "+quoteOrNone(now))
		}
	}
	fromTo("name", "name", cus.Name)
	fromTo("email", "email", cus.Email)
	fromTo("phone", "phone", cus.Phone)
	if old, ok := previous[int64](evt, "balance"); ok {
		handled["balance"] = true
		changes = append(changes, "balance changed from "+customerBalance(*old, cus.Currency)+" to "+customerBalance(cus.Balance, cus.Currency))
	}
	if _, ok := previous[stripe.CustomerInvoiceSettings](evt, "invoice_settings"); ok {
		handled["invoice_settings"] = true
		changes = append(changes, "invoice settings (such as the default payment method) changed")
	}
	if _, ok := previous[any](evt, "default_source"); ok {
		handled["default_source"] = true
		changes = append(changes, "default card changed")
	}
	if _, ok := previous[bool](evt, "delinquent"); ok {
		handled["delinquent"] = true
		if cus.Delinquent {
			changes = append(changes, "marked delinquent (a payment failed)")
		} else {
			changes = append(changes, "no longer delinquent")
		}
	}
	for _, key := range []string{"address", "description", "shipping", "metadata", "preferred_locales", "tax_exempt"} {
		if _, ok := previous[any](evt, key); ok {
			handled[key] = true
			changes = append(changes, words(key)+" changed")
		}
	}
	if other := otherChangedFields(evt, handled); other != "" {
		changes = append(changes, other)
	}
	if len(changes) > 0 {
		changes[0] = capitalize(changes[0])
	}
	return changes
}

func quoteOrNone(s string) string {
	if s = clean(s); s == "" {
		return "none"
	}
	return "“" + s + "”"
}

// customerBalance words Stripe's sign convention: a negative balance is
// credit the customer has, a positive one is owed on the next invoice.
func customerBalance(balance int64, currency stripe.Currency) string {
	switch {
	case balance < 0:
		return money(-balance, currency) + " credit"
	case balance > 0:
		return money(balance, currency) + " owed"
	}
	return money(0, currency)
}

func (r *renderer) renderCheckout() error {
	cs, err := decodeObject[stripe.CheckoutSession](r.evt, "checkout.session")
	if err != nil {
		return err
	}
	m := &r.msg
	m.lead("🛒", "Checkout completed")
	if cs.Mode == stripe.CheckoutSessionModeSetup {
		m.text(": payment method saved")
	} else {
		m.text(": ")
		m.bold(money(cs.AmountTotal, cs.Currency))
		switch cs.PaymentStatus {
		case stripe.CheckoutSessionPaymentStatusPaid:
			m.text(" · paid")
		case stripe.CheckoutSessionPaymentStatusUnpaid:
			m.text(" · payment still pending")
		case stripe.CheckoutSessionPaymentStatusNoPaymentRequired:
			m.text(" · no payment needed")
		}
	}

	// Replies to this message act on what the checkout created.
	var dash string
	switch {
	case cs.Subscription != nil && cs.Subscription.ID != "":
		r.objectID = cs.Subscription.ID
		m.line()
		m.text("Started subscription ")
		m.code(cs.Subscription.ID)
		dash = r.dashboard("subscriptions", cs.Subscription.ID)
	case cs.PaymentIntent != nil && cs.PaymentIntent.ID != "":
		r.objectID = cs.PaymentIntent.ID
		m.line()
		m.text("Payment ")
		m.code(cs.PaymentIntent.ID)
		dash = r.dashboard("payments", cs.PaymentIntent.ID)
	case cs.Invoice != nil && cs.Invoice.ID != "":
		r.objectID = cs.Invoice.ID
		dash = r.dashboard("invoices", cs.Invoice.ID)
	default:
		r.objectID = cs.ID
	}
	if cs.Invoice != nil && cs.Invoice.ID != "" && r.objectID != cs.Invoice.ID {
		m.text(" · invoice ")
		m.code(cs.Invoice.ID)
	}
	r.links("Dashboard", dash)
	return nil
}

func (r *renderer) renderPaymentMethod() error {
	pm, err := decodeObject[stripe.PaymentMethod](r.evt, "payment_method")
	if err != nil {
		return err
	}
	m := &r.msg
	r.objectID = pm.ID
	label, isCard := paymentMethodLabel(pm)
	noun := "Payment method"
	if isCard {
		noun = "Card"
	}

	customerID := ""
	if pm.Customer != nil {
		customerID = pm.Customer.ID
	}
	if r.evt.Type == "payment_method.attached" {
		m.lead("💳", noun+" added")
	} else {
		m.lead("🗑️", noun+" removed")
		// A detached method no longer names its customer; the event's
		// previous attributes do.
		if old, ok := previous[string](r.evt, "customer"); ok && customerID == "" {
			customerID = *old
		}
	}
	m.text(": " + label)
	if isCard {
		if exp := expiry(pm.Card.ExpMonth, pm.Card.ExpYear); exp != "" {
			m.text(" · expires " + exp)
		}
	}
	r.links("Dashboard", r.dashboard("customers", customerID))
	return nil
}

// paymentMethodLabel names a payment method; isCard means pm.Card is set.
func paymentMethodLabel(pm *stripe.PaymentMethod) (label string, isCard bool) {
	switch {
	case pm.Card != nil:
		return cardLabel(string(pm.Card.Brand), pm.Card.Last4), true
	case pm.SEPADebit != nil && pm.SEPADebit.Last4 != "":
		return "SEPA Direct Debit •••• " + clean(pm.SEPADebit.Last4), false
	case pm.USBankAccount != nil && pm.USBankAccount.Last4 != "":
		return clean(orDefault(pm.USBankAccount.BankName, "Bank account")) + " •••• " + clean(pm.USBankAccount.Last4), false
	case pm.Link != nil && pm.Link.Email != "":
		return "Link (" + clean(pm.Link.Email) + ")", false
	}
	return paymentMethodType(string(pm.Type)), false
}

func (r *renderer) renderSourceExpiring() error {
	src, err := decodeObject[stripe.PaymentSource](r.evt, "card", "source")
	if err != nil {
		return err
	}
	m := &r.msg
	r.objectID = src.ID
	var label, exp, customerID string
	switch {
	case src.Card != nil:
		label = cardLabel(string(src.Card.Brand), src.Card.Last4)
		exp = expiry(src.Card.ExpMonth, src.Card.ExpYear)
		if src.Card.Customer != nil {
			customerID = src.Card.Customer.ID
		}
	case src.Source != nil && src.Source.Card != nil:
		label = cardLabel(src.Source.Card.Brand, src.Source.Card.Last4)
		exp = expiry(src.Source.Card.ExpMonth, src.Source.Card.ExpYear)
		customerID = src.Source.Customer
	default:
		label = "Card"
	}
	m.lead("⏳", "Card expiring")
	m.text(": " + label)
	if exp != "" {
		m.text(" · expires " + exp)
	}
	m.sentence("Update the card before then so payments keep going through.")
	r.links("Dashboard", r.dashboard("customers", customerID))
	return nil
}

func (r *renderer) renderDiscount() error {
	d, err := decodeObject[stripe.Discount](r.evt, "discount")
	if err != nil {
		return err
	}
	m := &r.msg
	r.objectID = d.ID
	customerID := ""
	if d.Customer != nil {
		customerID = d.Customer.ID
	}
	if r.objectID == "" {
		r.objectID = customerID
	}
	if r.evt.Type == "customer.discount.deleted" {
		m.lead("🏷️", "Discount removed")
	} else {
		m.lead("🏷️", "Discount applied")
	}
	if c := d.Coupon; c != nil {
		if off := couponOff(c); off != "" {
			m.text(": " + off)
		}
		if name := clean(c.Name); name != "" {
			m.text(" · coupon “" + name + "”")
		}
	}
	if d.PromotionCode != nil && d.PromotionCode.Code != "" {
		m.text(" · code ")
		m.code(d.PromotionCode.Code)
	}
	if r.evt.Type != "customer.discount.deleted" {
		if end := day(d.End); end != "" {
			m.text(" · until " + end)
		}
	}
	if d.Subscription != "" {
		m.line()
		m.text("On subscription ")
		m.code(d.Subscription)
	}
	r.links("Dashboard", r.dashboard("customers", customerID))
	return nil
}

// couponOff is "20% off for 3 months" or "$5.00 off once".
func couponOff(c *stripe.Coupon) string {
	var off string
	switch {
	case c.PercentOff > 0:
		off = strconv.FormatFloat(c.PercentOff, 'f', -1, 64) + "% off"
	case c.AmountOff > 0:
		off = money(c.AmountOff, c.Currency) + " off"
	default:
		return ""
	}
	switch c.Duration {
	case stripe.CouponDurationOnce:
		off += " once"
	case stripe.CouponDurationRepeating:
		if c.DurationInMonths > 0 {
			off += " for " + plural(c.DurationInMonths, "month")
		}
	case stripe.CouponDurationForever:
		off += " forever"
	}
	return off
}
