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
		m.lead("👋", "Your billing account is set up")
		m.text(": " + who)
	case "customer.updated":
		changes := customerChanges(r.evt, cus)
		if len(changes) == 0 {
			r.skip = true
			return nil
		}
		m.lead("👤", "Your billing details changed")
		m.text(": " + who)
		m.line()
		m.text(strings.Join(changes, "; ") + ".")
	case "customer.deleted":
		m.lead("🗑️", "Your billing account was closed")
		m.text(": " + who)
		m.sentence("This room stays as a record of your billing history.")
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

// customerChanges says what an update changed that the customer can see.
// Metadata, the description, delinquency, the invoice prefix and the like
// are the merchant's own notes and flags: an update of only those says
// nothing here (the feed line names them for agents).
func customerChanges(evt *stripe.Event, cus *stripe.Customer) []string {
	var changes []string
	fromTo := func(key, label, now string) {
		if old, ok := previous[string](evt, key); ok {
			changes = append(changes, label+" changed from "+quoteOrNone(*old)+" to "+quoteOrNone(now))
		}
	}
	fromTo("name", "name", cus.Name)
	fromTo("email", "email", cus.Email)
	fromTo("phone", "phone", cus.Phone)
	if old, ok := previous[int64](evt, "balance"); ok {
		changes = append(changes, "account balance changed from "+customerBalance(*old, cus.Currency)+" to "+customerBalance(cus.Balance, cus.Currency))
	}
	if old, ok := previous[stripe.CustomerInvoiceSettings](evt, "invoice_settings"); ok && old != nil {
		before, after := "", ""
		if old.DefaultPaymentMethod != nil {
			before = old.DefaultPaymentMethod.ID
		}
		if cus.InvoiceSettings != nil && cus.InvoiceSettings.DefaultPaymentMethod != nil {
			after = cus.InvoiceSettings.DefaultPaymentMethod.ID
		}
		if before != after {
			changes = append(changes, "default payment method changed")
		}
	}
	if _, ok := previous[any](evt, "default_source"); ok {
		changes = append(changes, "default card changed")
	}
	for _, key := range []string{"address", "shipping", "preferred_locales"} {
		if _, ok := previous[any](evt, key); ok {
			changes = append(changes, strings.ReplaceAll(key, "_", " ")+" changed")
		}
	}
	if _, ok := previous[any](evt, "tax_exempt"); ok {
		changes = append(changes, "tax status changed")
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
	// Replies to this message act on what the checkout created.
	switch {
	case cs.Subscription != nil && cs.Subscription.ID != "":
		r.objectID = cs.Subscription.ID
	case cs.PaymentIntent != nil && cs.PaymentIntent.ID != "":
		r.objectID = cs.PaymentIntent.ID
	case cs.Invoice != nil && cs.Invoice.ID != "":
		r.objectID = cs.Invoice.ID
	default:
		r.objectID = cs.ID
	}
	amount := money(cs.AmountTotal, cs.Currency)

	switch r.evt.Type {
	case "checkout.session.completed":
		m.lead("🛒", "Checkout complete")
		if cs.Mode == stripe.CheckoutSessionModeSetup {
			m.text(": payment method saved")
			break
		}
		m.text(": ")
		m.bold(amount)
		switch cs.PaymentStatus {
		case stripe.CheckoutSessionPaymentStatusPaid:
			m.text(" · paid")
		case stripe.CheckoutSessionPaymentStatusUnpaid:
			m.text(" · payment still processing")
		case stripe.CheckoutSessionPaymentStatusNoPaymentRequired:
			m.text(" · no payment needed")
		}
		if cs.Subscription != nil && cs.Subscription.ID != "" {
			m.sentence("Your subscription has started.")
		}
	case "checkout.session.async_payment_succeeded":
		m.lead("✅", "Your payment went through")
		m.text(": ")
		m.bold(amount)
	case "checkout.session.async_payment_failed":
		m.lead("❌", "Your payment didn't go through")
		m.text(": ")
		m.bold(amount)
		m.sentence("Your bank did not complete the payment. Please pay again with another payment method.")
	case "checkout.session.expired":
		// Only worth the customer's attention when Stripe can take them
		// back to their basket.
		recovery := ""
		if cs.AfterExpiration != nil && cs.AfterExpiration.Recovery != nil {
			recovery = cs.AfterExpiration.Recovery.URL
		}
		if !safeURL(recovery) {
			r.skip = true
			return nil
		}
		m.lead("⌛", "Your checkout expired before payment")
		m.text(": ")
		m.bold(amount)
		r.links("Resume checkout", recovery)
	}
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
	exp := ""
	if isCard {
		exp = expiry(pm.Card.ExpMonth, pm.Card.ExpYear)
	}

	switch r.evt.Type {
	case "payment_method.attached":
		m.lead("💳", noun+" added")
		m.text(": " + label)
		if exp != "" {
			m.text(" · expires " + exp)
		}
	case "payment_method.detached":
		m.lead("🗑️", noun+" removed")
		m.text(": " + label)
	case "payment_method.automatically_updated":
		// The card network sent the bank's new details (a new expiry date,
		// sometimes a new number); payments keep working.
		m.lead("💳", noun+" updated by your bank")
		m.text(": " + label)
		if exp != "" {
			m.text(" · now expires " + exp)
		}
		if old, ok := previous[stripe.PaymentMethodCard](r.evt, "card"); ok && old != nil && isCard &&
			old.Last4 != "" && old.Last4 != pm.Card.Last4 {
			m.text(" · was •••• " + clean(old.Last4))
		}
		m.sentence("Nothing to do: payments use the updated card.")
	}
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
	var label, exp string
	switch {
	case src.Card != nil:
		label = cardLabel(string(src.Card.Brand), src.Card.Last4)
		exp = expiry(src.Card.ExpMonth, src.Card.ExpYear)
	case src.Source != nil && src.Source.Card != nil:
		label = cardLabel(src.Source.Card.Brand, src.Source.Card.Last4)
		exp = expiry(src.Source.Card.ExpMonth, src.Source.Card.ExpYear)
	default:
		label = "Card"
	}
	m.lead("⏳", "Your card expires soon")
	m.text(": " + label)
	if exp != "" {
		m.text(" · expires " + exp)
	}
	m.sentence("Please update the card before then so payments keep going through.")
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
		m.text(" · on your subscription")
	}
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
