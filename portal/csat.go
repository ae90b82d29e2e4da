package portal

// CSATKey marks the satisfaction question ("Did we solve it?") in its
// event's content, so the web chat can offer 👍 and 👎 as buttons.
const CSATKey = "com.github.matrix-stripe.csat"
