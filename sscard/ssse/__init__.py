"""The social security application (SSSE, 社会保障应用): reading the card's identity
(`reader`), its typed results (`results`), the checks on what was read (`checks`,
`completeness`) and the PIN (`pin`).  It mirrors `sscard.bank`, the bank application."""
