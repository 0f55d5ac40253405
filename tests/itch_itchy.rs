//! Cross-check against an independent decoder: every message floe emits, of
//! every type `itchy` 0.3.4 supports, is fed to itchy as a BinaryFILE buffer
//! (u16 length + message, PROTOCOLS.md §1) and every field itchy reports must
//! equal floe's `Repr`.

mod common;

use common::itch_gen::{random_message, ITCHY_TYPES};
use floe::types::Side;
use floe::wire::itch::*;
use rand::rngs::SmallRng;
use rand::SeedableRng;

fn side_byte(s: itchy::Side) -> Side {
    match s {
        itchy::Side::Buy => Side::Buy,
        itchy::Side::Sell => Side::Sell,
    }
}

fn yn(b: bool) -> u8 {
    if b {
        b'Y'
    } else {
        b'N'
    }
}

fn yn_blank(b: Option<bool>) -> u8 {
    match b {
        Some(true) => b'Y',
        Some(false) => b'N',
        None => b' ',
    }
}

fn cross(c: itchy::CrossType) -> u8 {
    use itchy::CrossType::*;
    match c {
        Opening => b'O',
        Closing => b'C',
        IpoOrHalted => b'H',
        Intraday => b'I',
        ExtendedTradingClose => b'A',
    }
}

fn stock_dir(m: &StockDirectory, d: &itchy::StockDirectory) {
    use itchy::*;
    assert_eq!(d.stock.as_bytes(), &m.stock.0);
    let cat = match d.market_category {
        MarketCategory::NasdaqGlobalSelect => b'Q',
        MarketCategory::NasdaqGlobalMarket => b'G',
        MarketCategory::NasdaqCapitalMarket => b'S',
        MarketCategory::Nyse => b'N',
        MarketCategory::NyseMkt => b'A',
        MarketCategory::NyseArca => b'P',
        MarketCategory::BatsZExchange => b'Z',
        MarketCategory::InvestorsExchange => b'V',
        MarketCategory::Unavailable => b' ',
    };
    assert_eq!(cat, m.market_category);
    let fin = match d.financial_status {
        FinancialStatus::Normal => b'N',
        FinancialStatus::Deficient => b'D',
        FinancialStatus::Delinquent => b'E',
        FinancialStatus::Bankrupt => b'Q',
        FinancialStatus::Suspended => b'S',
        FinancialStatus::DeficientBankrupt => b'G',
        FinancialStatus::DeficientDelinquent => b'H',
        FinancialStatus::DelinquentBankrupt => b'J',
        FinancialStatus::DeficientDelinquentBankrupt => b'K',
        FinancialStatus::EtpSuspended => b'C',
        FinancialStatus::Unavailable => b' ',
    };
    assert_eq!(fin, m.financial_status);
    assert_eq!(d.round_lot_size, m.round_lot_size);
    assert_eq!(yn(d.round_lots_only), m.round_lots_only);
    let class = match d.issue_classification {
        IssueClassification::AmericanDepositaryShare => b'A',
        IssueClassification::Bond => b'B',
        IssueClassification::CommonStock => b'C',
        IssueClassification::DepositoryReceipt => b'F',
        IssueClassification::A144 => b'I',
        IssueClassification::LimitedPartnership => b'L',
        IssueClassification::Notes => b'N',
        IssueClassification::OrdinaryShare => b'O',
        IssueClassification::PreferredStock => b'P',
        IssueClassification::OtherSecurities => b'Q',
        IssueClassification::Right => b'R',
        IssueClassification::SharesOfBeneficialInterest => b'S',
        IssueClassification::ConvertibleDebenture => b'T',
        IssueClassification::Unit => b'U',
        IssueClassification::UnitsPerBenifInt => b'V',
        IssueClassification::Warrant => b'W',
    };
    assert_eq!(class, m.issue_classification);
    // A one-letter sub-type is space-padded on the wire.
    assert_eq!(issue_sub_type_of(d.issue_subtype), m.issue_sub_type);
    assert_eq!(if d.authenticity { b'P' } else { b'T' }, m.authenticity);
    assert_eq!(yn_blank(d.short_sale_threshold), m.short_sale_threshold);
    assert_eq!(yn_blank(d.ipo_flag), m.ipo_flag);
    let tier = match d.luld_ref_price_tier {
        LuldRefPriceTier::Tier1 => b'1',
        LuldRefPriceTier::Tier2 => b'2',
        LuldRefPriceTier::Na => b' ',
    };
    assert_eq!(tier, m.luld_tier);
    assert_eq!(yn_blank(d.etp_flag), m.etp_flag);
    assert_eq!(d.etp_leverage_factor, m.etp_leverage_factor);
    assert_eq!(yn(d.inverse_indicator), m.inverse_indicator);
}

fn issue_sub_type_of(s: itchy::IssueSubType) -> [u8; 2] {
    use itchy::IssueSubType::*;
    *match s {
        PreferredTrustSecurities => b"A ",
        AlphaIndexETNs => b"AI",
        IndexBasedDerivative => b"B ",
        CommonShares => b"C ",
        CommodityBasedTrustShares => b"CB",
        CommodityFuturesTrustShares => b"CF",
        CommodityLinkedSecurities => b"CL",
        CommodityIndexTrustShares => b"CM",
        CollateralizedMortgageObligation => b"CO",
        CurrencyTrustShares => b"CT",
        CommodityCurrencyLinkedSecurities => b"CU",
        CurrencyWarrants => b"CW",
        GlobalDepositaryShares => b"D ",
        ETFPortfolioDepositaryReceipt => b"E ",
        EquityGoldShares => b"EG",
        ETNEquityIndexLinkedSecurities => b"EI",
        ExchangeTradedManagedFunds => b"EM",
        ExchangeTradedNotes => b"EN",
        EquityUnits => b"EU",
        Holdrs => b"F ",
        ETNFixedIncomeLinkedSecurities => b"FI",
        ETNFuturesLinkedSecurities => b"FL",
        GlobalShares => b"G ",
        ETFIndexFundShares => b"I ",
        InterestRate => b"IR",
        IndexWarrant => b"IW",
        IndexLinkedExchangeableNotes => b"IX",
        CorporateBackedTrustSecurity => b"J ",
        ContingentLitigationRight => b"L ",
        Llc => b"LL",
        EquityBasedDerivative => b"M ",
        ManagedFundShares => b"MF",
        ETNMultiFactorIndexLinkedSecurities => b"ML",
        ManagedTrustSecurities => b"MT",
        NYRegistryShares => b"N ",
        OpenEndedMutualFund => b"O ",
        PrivatelyHeldSecurity => b"P ",
        PoisonPill => b"PP",
        PartnershipUnits => b"PU",
        ClosedEndFunds => b"Q ",
        RegS => b"R ",
        CommodityRedeemableCommodityLinkedSecurities => b"RC",
        ETNRedeemableFuturesLinkedSecurities => b"RF",
        REIT => b"RT",
        CommodityRedeemableCurrencyLinkedSecurities => b"RU",
        Seed => b"S ",
        SpotRateClosing => b"SC",
        SpotRateIntraday => b"SI",
        TrackingStock => b"T ",
        TrustCertificates => b"TC",
        TrustUnits => b"TU",
        Portal => b"U ",
        ContingentValueRight => b"V ",
        TrustIssuedReceipts => b"W ",
        WorldCurrencyOption => b"WC",
        Trust => b"X ",
        Other => b"Y ",
        NotApplicable => b"Z ",
    }
}

/// Asserts that itchy's decoding of one message equals floe's `Repr`.
fn assert_same(floe: &Message, it: &itchy::Message) {
    use itchy::Body;
    assert_eq!(it.tag, floe.msg_type());
    let h = floe.header();
    assert_eq!(it.stock_locate, h.locate);
    assert_eq!(it.tracking_number, h.tracking);
    assert_eq!(it.timestamp, h.timestamp);
    match (floe, &it.body) {
        (Message::SystemEvent(m), Body::SystemEvent { event }) => {
            use itchy::EventCode::*;
            let b = match event {
                StartOfMessages => b'O',
                StartOfSystemHours => b'S',
                StartOfMarketHours => b'Q',
                EndOfMarketHours => b'M',
                EndOfSystemHours => b'E',
                EndOfMessages => b'C',
            };
            assert_eq!(b, m.event_code);
        }
        (Message::StockDirectory(m), Body::StockDirectory(d)) => stock_dir(m, d),
        (
            Message::TradingAction(m),
            Body::TradingAction {
                stock,
                trading_state,
                reason,
            },
        ) => {
            assert_eq!(stock.as_bytes(), &m.stock.0);
            use itchy::TradingState::*;
            let b = match trading_state {
                Halted => b'H',
                Paused => b'P',
                QuotationOnly => b'Q',
                Trading => b'T',
            };
            assert_eq!(b, m.trading_state);
            assert_eq!(reason.as_bytes(), &m.reason);
        }
        (Message::RegSho(m), Body::RegShoRestriction { stock, action }) => {
            assert_eq!(stock.as_bytes(), &m.stock.0);
            use itchy::RegShoAction::*;
            let b = match action {
                None => b'0',
                Intraday => b'1',
                Extant => b'2',
            };
            assert_eq!(b, m.reg_sho_action);
        }
        (Message::MarketParticipantPosition(m), Body::ParticipantPosition(p)) => {
            assert_eq!(p.mpid.as_bytes(), &m.mpid);
            assert_eq!(p.stock.as_bytes(), &m.stock.0);
            assert_eq!(yn(p.primary_market_maker), m.primary_market_maker);
            use itchy::MarketMakerMode::*;
            let mode = match p.market_maker_mode {
                Normal => b'N',
                Passive => b'P',
                Syndicate => b'S',
                Presyndicate => b'R',
                Penalty => b'L',
            };
            assert_eq!(mode, m.market_maker_mode);
            use itchy::MarketParticipantState::*;
            let state = match p.market_participant_state {
                Active => b'A',
                Excused => b'E',
                Withdrawn => b'W',
                Suspended => b'S',
                Deleted => b'D',
            };
            assert_eq!(state, m.participant_state);
        }
        (
            Message::MwcbDeclineLevel(m),
            Body::MwcbDeclineLevel {
                level1,
                level2,
                level3,
            },
        ) => {
            assert_eq!(level1.raw(), m.level1);
            assert_eq!(level2.raw(), m.level2);
            assert_eq!(level3.raw(), m.level3);
        }
        (Message::MwcbStatus(m), Body::Breach(l)) => {
            use itchy::LevelBreached::*;
            let b = match l {
                L1 => b'1',
                L2 => b'2',
                L3 => b'3',
            };
            assert_eq!(b, m.breached_level);
        }
        (Message::IpoQuotingPeriod(m), Body::IpoQuotingPeriod(q)) => {
            assert_eq!(q.stock.as_bytes(), &m.stock.0);
            assert_eq!(q.release_time, m.release_time);
            let b = match q.release_qualifier {
                itchy::IpoReleaseQualifier::Anticipated => b'A',
                itchy::IpoReleaseQualifier::Cancelled => b'C',
            };
            assert_eq!(b, m.release_qualifier);
            assert_eq!(q.price.raw(), m.ipo_price.0);
        }
        (
            Message::LuldAuctionCollar(m),
            Body::LULDAuctionCollar {
                stock,
                ref_price,
                upper_price,
                lower_price,
                extension,
            },
        ) => {
            assert_eq!(stock.as_bytes(), &m.stock.0);
            assert_eq!(ref_price.raw(), m.reference_price.0);
            assert_eq!(upper_price.raw(), m.upper_price.0);
            assert_eq!(lower_price.raw(), m.lower_price.0);
            assert_eq!(*extension, m.extension);
        }
        (Message::AddOrder(m), Body::AddOrder(a)) => {
            assert_eq!(a.reference, m.order_ref);
            assert_eq!(side_byte(a.side), m.side);
            assert_eq!(a.shares, m.shares.0);
            assert_eq!(a.stock.as_bytes(), &m.stock.0);
            assert_eq!(a.price.raw(), m.price.0);
            assert_eq!(a.mpid, None);
        }
        (Message::AddOrderMpid(m), Body::AddOrder(a)) => {
            assert_eq!(a.reference, m.order_ref);
            assert_eq!(side_byte(a.side), m.side);
            assert_eq!(a.shares, m.shares.0);
            assert_eq!(a.stock.as_bytes(), &m.stock.0);
            assert_eq!(a.price.raw(), m.price.0);
            assert_eq!(
                a.mpid.as_ref().map(|s| s.as_bytes()),
                Some(&m.attribution[..])
            );
        }
        (
            Message::OrderExecuted(m),
            Body::OrderExecuted {
                reference,
                executed,
                match_number,
            },
        ) => {
            assert_eq!(*reference, m.order_ref);
            assert_eq!(*executed, m.executed_shares.0);
            assert_eq!(*match_number, m.match_number);
        }
        (
            Message::OrderExecutedWithPrice(m),
            Body::OrderExecutedWithPrice {
                reference,
                executed,
                match_number,
                printable,
                price,
            },
        ) => {
            assert_eq!(*reference, m.order_ref);
            assert_eq!(*executed, m.executed_shares.0);
            assert_eq!(*match_number, m.match_number);
            assert_eq!(yn(*printable), m.printable);
            assert_eq!(price.raw(), m.execution_price.0);
        }
        (
            Message::OrderCancel(m),
            Body::OrderCancelled {
                reference,
                cancelled,
            },
        ) => {
            assert_eq!(*reference, m.order_ref);
            assert_eq!(*cancelled, m.canceled_shares.0);
        }
        (Message::OrderDelete(m), Body::DeleteOrder { reference }) => {
            assert_eq!(*reference, m.order_ref);
        }
        (Message::OrderReplace(m), Body::ReplaceOrder(r)) => {
            assert_eq!(r.old_reference, m.original_order_ref);
            assert_eq!(r.new_reference, m.new_order_ref);
            assert_eq!(r.shares, m.shares.0);
            assert_eq!(r.price.raw(), m.price.0);
        }
        (Message::Trade(m), Body::NonCrossTrade(t)) => {
            assert_eq!(t.reference, m.order_ref);
            assert_eq!(side_byte(t.side), m.side);
            assert_eq!(t.shares, m.shares.0);
            assert_eq!(t.stock.as_bytes(), &m.stock.0);
            assert_eq!(t.price.raw(), m.price.0);
            assert_eq!(t.match_number, m.match_number);
        }
        (Message::CrossTrade(m), Body::CrossTrade(c)) => {
            assert_eq!(c.shares, m.shares);
            assert_eq!(c.stock.as_bytes(), &m.stock.0);
            assert_eq!(c.cross_price.raw(), m.cross_price.0);
            assert_eq!(c.match_number, m.match_number);
            assert_eq!(cross(c.cross_type), m.cross_type);
        }
        (Message::BrokenTrade(m), Body::BrokenTrade { match_number }) => {
            assert_eq!(*match_number, m.match_number);
        }
        (Message::Noii(m), Body::Imbalance(i)) => {
            assert_eq!(i.paired_shares, m.paired_shares);
            assert_eq!(i.imbalance_shares, m.imbalance_shares);
            use itchy::ImbalanceDirection::*;
            let d = match i.imbalance_direction {
                Buy => b'B',
                Sell => b'S',
                NoImbalance => b'N',
                InsufficientOrders => b'O',
            };
            assert_eq!(d, m.imbalance_direction);
            assert_eq!(i.stock.as_bytes(), &m.stock.0);
            assert_eq!(i.far_price.raw(), m.far_price.0);
            assert_eq!(i.near_price.raw(), m.near_price.0);
            assert_eq!(i.current_ref_price.raw(), m.current_reference_price.0);
            assert_eq!(cross(i.cross_type), m.cross_type);
            assert_eq!(
                i.price_variation_indicator as u32,
                m.price_variation_indicator as u32
            );
        }
        (Message::Rpii(m), Body::RetailPriceImprovementIndicator(r)) => {
            assert_eq!(r.stock.as_bytes(), &m.stock.0);
            use itchy::InterestFlag::*;
            let b = match r.interest_flag {
                RPIAvailableBuySide => b'B',
                RPIAvailableSellSide => b'S',
                RPIAvailableBothSides => b'A',
                RPINoneAvailable => b'N',
            };
            assert_eq!(b, m.interest_flag);
        }
        (f, i) => panic!("floe decoded {f:?} but itchy {i:?}"),
    }
}

#[test]
fn itchy_decodes_what_floe_emits() {
    const PER_TYPE: usize = 400;
    let mut rng = SmallRng::seed_from_u64(0x17c4_5eed);
    let mut msgs = Vec::new();
    for _ in 0..PER_TYPE {
        for &t in ITCHY_TYPES {
            msgs.push(random_message(&mut rng, t));
        }
    }
    let mut file = vec![0u8; msgs.len() * (2 + MAX_MESSAGE_LEN)];
    let mut at = 0;
    for m in &msgs {
        at += emit_record(m, &mut file[at..]).unwrap();
    }
    file.truncate(at);

    // floe reads its own file back identically.
    let back: Vec<Message> = BinaryFileRecords::new(&file)
        .map(|r| Message::parse(r.unwrap()).unwrap())
        .collect();
    assert_eq!(back, msgs);

    let stream = itchy::MessageStream::from_reader(&file[..]);
    let mut n = 0;
    for (floe_msg, it) in msgs.iter().zip(stream) {
        let it = it.unwrap_or_else(|e| panic!("itchy refused message {n} ({floe_msg:?}): {e}"));
        assert_same(floe_msg, &it);
        n += 1;
    }
    assert_eq!(n, msgs.len(), "itchy stopped early");
    assert_eq!(n, PER_TYPE * ITCHY_TYPES.len());
}
