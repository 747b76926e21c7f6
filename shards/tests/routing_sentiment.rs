//! Lexicon sentiment in both languages.

use switchboard_shards::routing::sentiment::score;

#[test]
fn scores_are_in_range_and_signed() {
    for text in [
        "",
        "hello",
        "谢谢你们,太好了",
        "骗子!!!退钱!!!",
        "FUCK THIS SCAM",
    ] {
        let s = score(text).score;
        assert!((-1.0..=1.0).contains(&s), "{text}: {s}");
    }
    assert!(score("谢谢,客服很满意").score > 0.3);
    assert!(score("thanks, that was really helpful").score > 0.3);
}

#[test]
fn angry_messages_are_strongly_negative() {
    for text in [
        "我要投诉你们",
        "你们这帮骗子",
        "REFUND NOW!!!",
        "this is a scam, I want my money back",
        "垃圾平台,再不退钱我就报警",
        "what the fuck is wrong with you",
        "I'm going to sue you",
    ] {
        let s = score(text);
        assert!(s.is_strongly_negative(), "{text}: {} {:?}", s.score, s.cues);
    }
}

#[test]
fn mild_complaints_are_negative_but_not_strong() {
    let s = score("refund now!!!");
    assert!(s.score < -0.3, "{}", s.score);
    let s = score("有点失望");
    assert!(s.score < 0.0 && !s.is_strongly_negative(), "{}", s.score);
}

#[test]
fn neutral_questions_are_neutral() {
    for text in [
        "how do I reset my password",
        "怎么开通大会员",
        "三连是什么意思",
        "What is an UP主?",
    ] {
        assert_eq!(score(text).score, 0.0, "{text}");
    }
}

#[test]
fn cues_explain_the_score() {
    let s = score("骗子!!");
    assert!(s.cues.contains(&"骗子"));
    assert!(s.cues.contains(&"!!"));
    assert!(score("WHY IS THIS BROKEN").cues.contains(&"CAPS"));
}

/// Calm messages built around a lexicon word, from issue 18: none may be escalated, and none may be
/// scored below mildly negative.
#[test]
fn calm_reports_and_words_inside_other_words_are_not_escalated() {
    for text in [
        "版权投诉怎么提交",
        "report a scam message",
        "how do I file a complaint about a video",
        "举报诈骗私信的入口在哪",
        "弹幕滚动太快了怎么调",
        "my friend Sue shared this video with me",
        "订单号 2024123150001234 的退款到了吗",
        "麻烦帮我查一下订单",
        "紧急联系人怎么改",
        "how do I report a fraud account",
    ] {
        let s = score(text);
        assert!(
            s.score > -0.3,
            "{text}: {} {:?} (a calm message is escalated or marked unhappy)",
            s.score,
            s.cues
        );
    }
}

/// Angry messages without insults, from issue 18, and other anger cues.
#[test]
fn anger_without_insults_is_detected() {
    for text in [
        "你们到底管不管",
        "third time I'm asking",
        "this is the third time I'm asking about my refund",
        "说了多少遍了还没解决",
        "等了三天了还没人理",
        "I've been waiting for days and nobody answers",
        "退款退款退款",
        "refund refund refund",
        "我要投诉你们,怎么这么慢",
    ] {
        let s = score(text);
        assert!(s.is_strongly_negative(), "{text}: {} {:?}", s.score, s.cues);
    }
}

#[test]
fn laughter_and_doubled_politeness_are_not_repetition() {
    for text in ["哈哈哈哈哈哈", "谢谢谢谢谢谢", "hahahahaha"] {
        assert!(!score(text).cues.contains(&"REPEATED"), "{text}");
    }
    assert!(score("退款!退款!退款!").cues.contains(&"REPEATED"));
}
